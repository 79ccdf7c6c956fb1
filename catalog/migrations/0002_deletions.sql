-- An object is removed by a new version that says so; its history stays.
ALTER TABLE catalog_objects ADD COLUMN deleted boolean NOT NULL DEFAULT false;
