package history

// migrations holds the schema, one step per version: the database's
// PRAGMA user_version says how many have been applied, and Open applies the
// rest in one transaction. Steps are only ever appended; a released step is
// never edited, because databases out there already ran it.
//
// Times are Unix milliseconds (UTC) and durations nanoseconds, as integers,
// so that every SQLite build and every export agree on them exactly.
var migrations = []string{
	// 1: conversations, their messages, and images stored once per content.
	`
CREATE TABLE conversations (
	id         INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, so an ID someone wrote down stays valid or gone
	title      TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX conversations_by_update ON conversations (updated_at DESC, id DESC);

CREATE TABLE messages (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	role            TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
	text            TEXT    NOT NULL,
	model           TEXT    NOT NULL DEFAULT '',
	revision        TEXT    NOT NULL DEFAULT '',
	settings        TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
	vision_ns       INTEGER NOT NULL DEFAULT 0,
	prefill_ns      INTEGER NOT NULL DEFAULT 0,
	decode_ns       INTEGER NOT NULL DEFAULT 0,
	prompt_tokens   INTEGER NOT NULL DEFAULT 0,
	output_tokens   INTEGER NOT NULL DEFAULT 0,
	created_at      INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);

CREATE TABLE images (
	sha256       TEXT    PRIMARY KEY, -- lower-case hex of the file's bytes; also its file name
	format       TEXT    NOT NULL,    -- png, jpeg, gif, webp, bmp or tiff
	width        INTEGER NOT NULL,
	height       INTEGER NOT NULL,
	size         INTEGER NOT NULL,
	thumb_format TEXT    NOT NULL     -- png or jpeg
) WITHOUT ROWID;

CREATE TABLE attachments (
	message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	position     INTEGER NOT NULL,
	image_sha256 TEXT    NOT NULL REFERENCES images (sha256), -- no cascade: an image in use cannot vanish
	name         TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (message_id, position)
) WITHOUT ROWID;
CREATE INDEX attachments_by_image ON attachments (image_sha256);
`,
	// 2: full-text search over messages. An external-content table keeps
	// only the index (the text lives once, in messages); the triggers keep
	// it in step with every insert, delete (cascades included) and edit.
	// remove_diacritics 2 lets "cafe" find "café".
	`
CREATE VIRTUAL TABLE messages_fts USING fts5 (
	text,
	content = 'messages',
	content_rowid = 'id',
	tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
	INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
	INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
	INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
END;
`,
}
