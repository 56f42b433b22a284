-- kiln:revision e5f6a1b2c3d4
-- kiln:revises c3d4e5f6a1b2, d4e5f6a1b2c3
-- kiln:message merge display name and tags
-- kiln:created 2026-11-04T09:00:00Z

-- kiln:upgrade
-- A merge joins two heads; it needs no SQL of its own.

-- kiln:downgrade
