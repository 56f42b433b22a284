-- The schema the sample migrations (../../../migrations) build on PostgreSQL, kiln's own tables
-- left out. Generated with
--   pg_dump --schema-only --no-owner --no-privileges -T 'kiln_*' <migrated database>
-- and trimmed of comments, SET lines and psql's \restrict lines. It is written the way pg_dump
-- writes (constraints added afterwards, names spelled out), not the way the migrations are:
-- the comparison is between catalogs, not texts.

CREATE TABLE public.note_tags (
    note_id integer NOT NULL,
    tag_id integer NOT NULL
);

CREATE TABLE public.notes (
    id integer NOT NULL,
    user_id integer NOT NULL,
    body character varying(2000) NOT NULL,
    created_at character varying(40) NOT NULL
);

CREATE TABLE public.tags (
    id integer NOT NULL,
    name character varying(64) NOT NULL
);

CREATE TABLE public.users (
    id integer NOT NULL,
    email character varying(255) NOT NULL,
    created_at character varying(40) NOT NULL,
    display_name character varying(100)
);

ALTER TABLE ONLY public.note_tags
    ADD CONSTRAINT note_tags_pkey PRIMARY KEY (note_id, tag_id);
ALTER TABLE ONLY public.notes
    ADD CONSTRAINT notes_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.tags
    ADD CONSTRAINT tags_name_key UNIQUE (name);
ALTER TABLE ONLY public.tags
    ADD CONSTRAINT tags_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_email_key UNIQUE (email);
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX notes_user_idx ON public.notes USING btree (user_id);

ALTER TABLE ONLY public.note_tags
    ADD CONSTRAINT note_tags_note_id_fkey FOREIGN KEY (note_id) REFERENCES public.notes(id);
ALTER TABLE ONLY public.note_tags
    ADD CONSTRAINT note_tags_tag_id_fkey FOREIGN KEY (tag_id) REFERENCES public.tags(id);
ALTER TABLE ONLY public.notes
    ADD CONSTRAINT notes_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);
