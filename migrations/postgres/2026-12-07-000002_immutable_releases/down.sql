DROP TABLE product_policies;
ALTER TABLE releases DROP COLUMN sealed_at;
