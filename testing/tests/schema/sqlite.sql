-- The schema the sample migrations (../../../migrations) build on SQLite, kiln's own tables left
-- out. Generated with `sqlite3 <migrated file> .schema`, then trimmed of kiln_* tables and of
-- sqlite_sequence; SQLite keeps DDL as written, so `display_name` sits where ALTER TABLE put it.

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    created_at VARCHAR(40) NOT NULL
, display_name VARCHAR(100));
CREATE TABLE notes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    body VARCHAR(2000) NOT NULL,
    created_at VARCHAR(40) NOT NULL
);
CREATE INDEX notes_user_idx ON notes (user_id);
CREATE TABLE tags (
    id INTEGER PRIMARY KEY,
    name VARCHAR(64) NOT NULL UNIQUE
);
CREATE TABLE note_tags (
    note_id INTEGER NOT NULL REFERENCES notes (id),
    tag_id INTEGER NOT NULL REFERENCES tags (id),
    PRIMARY KEY (note_id, tag_id)
);
