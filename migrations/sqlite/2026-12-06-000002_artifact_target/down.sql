ALTER TABLE artifacts DROP COLUMN filetype;
ALTER TABLE artifacts DROP COLUMN arch;
ALTER TABLE artifacts DROP COLUMN os;
