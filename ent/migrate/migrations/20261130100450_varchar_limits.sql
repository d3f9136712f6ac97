-- Modify "device_types" table
ALTER TABLE "device_types" ALTER COLUMN "name" TYPE character varying(100), ALTER COLUMN "description" TYPE character varying(1000);
-- Modify "devices" table
ALTER TABLE "devices" ALTER COLUMN "mac_address" TYPE character varying(17), ALTER COLUMN "name" TYPE character varying(100), ALTER COLUMN "firmware_version" TYPE character varying(64), ALTER COLUMN "wifi_name" TYPE character varying(64);
-- Modify "users" table
ALTER TABLE "users" ALTER COLUMN "username" TYPE character varying(150), ALTER COLUMN "nickname" TYPE character varying(64), ALTER COLUMN "mbti" TYPE character varying(4);
