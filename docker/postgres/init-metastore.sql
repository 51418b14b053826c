-- Run once by the postgres image on an empty data directory: the Hive metastore's database beside mlcatalog's.
CREATE DATABASE metastore OWNER mlcatalog;
