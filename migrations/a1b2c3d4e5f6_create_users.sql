-- kiln:revision a1b2c3d4e5f6
-- kiln:message create users
-- kiln:created 2026-11-01T09:00:00Z

-- kiln:upgrade
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    created_at VARCHAR(40) NOT NULL
);

-- kiln:downgrade
DROP TABLE users;
