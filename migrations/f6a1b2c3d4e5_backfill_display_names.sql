-- kiln:revision f6a1b2c3d4e5
-- kiln:revises e5f6a1b2c3d4
-- kiln:message backfill display names from email
-- kiln:created 2026-11-05T09:00:00Z

-- A data migration: the old NULLs cannot be told apart from the backfilled values afterwards,
-- so there is no downgrade section and the revision is irreversible.

-- kiln:upgrade
UPDATE users SET display_name = email WHERE display_name IS NULL;
