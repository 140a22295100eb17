CREATE INDEX download_ledger_product ON download_ledger (product, at DESC, id DESC);
CREATE INDEX download_ledger_artifact ON download_ledger (artifact_id, at DESC, id DESC);
