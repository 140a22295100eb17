-- Idempotency records are now kept sealed (the key as a digest, the answer encrypted
-- under a key derived from the client's Idempotency-Key; see
-- crates/releasy-crypto/src/sealed_idempotency.rs). Answers an older server stored in
-- plain text, download links among them, would never be replayed again (their keys
-- are not digests) but would sit readable for up to a day: remove them now.
DELETE FROM idempotency_keys
WHERE response_body IS NOT NULL AND response_body NOT LIKE 'sealed-v1:%';
