ALTER TABLE releases DROP COLUMN first_published_at;
