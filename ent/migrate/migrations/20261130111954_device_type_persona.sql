-- Modify "device_types" table
ALTER TABLE "device_types" ADD COLUMN "persona_name" character varying(64) NOT NULL DEFAULT '', ADD COLUMN "persona_description" character varying(1000) NOT NULL DEFAULT '', ADD COLUMN "prompt_template" character varying(8000) NOT NULL DEFAULT '', ADD COLUMN "voice" character varying(100) NOT NULL DEFAULT '';
