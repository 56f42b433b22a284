-- kiln:revision b2c3d4e5f6a1
-- kiln:revises a1b2c3d4e5f6
-- kiln:message create notes
-- kiln:created 2026-11-02T09:00:00Z

-- kiln:upgrade
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    body VARCHAR(2000) NOT NULL,
    created_at VARCHAR(40) NOT NULL
);
CREATE INDEX notes_user_idx ON notes (user_id);

-- kiln:downgrade
DROP TABLE notes;
