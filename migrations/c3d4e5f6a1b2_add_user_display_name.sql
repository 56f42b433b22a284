-- kiln:revision c3d4e5f6a1b2
-- kiln:revises b2c3d4e5f6a1
-- kiln:message add users.display_name
-- kiln:created 2026-11-03T09:00:00Z

-- Written on one branch while d4e5f6a1b2c3 was written on another; e5f6a1b2c3d4 merges them.

-- kiln:upgrade
ALTER TABLE users ADD COLUMN display_name VARCHAR(100);

-- kiln:downgrade
ALTER TABLE users DROP COLUMN display_name;
