-- kiln:revision d4e5f6a1b2c3
-- kiln:revises b2c3d4e5f6a1
-- kiln:message create tags
-- kiln:created 2026-11-03T10:00:00Z

-- kiln:upgrade
CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name VARCHAR(64) NOT NULL UNIQUE
);
CREATE TABLE note_tags (
    note_id INTEGER NOT NULL REFERENCES notes (id),
    tag_id INTEGER NOT NULL REFERENCES tags (id),
    PRIMARY KEY (note_id, tag_id)
);

-- kiln:downgrade
DROP TABLE note_tags;
DROP TABLE tags;
