"""social surface: clubs, topics, scheduled events

Tables of clubs (core communities), the topic tree (seeded here with a default set, frozen on
purpose: later code changes must not rewrite history) and scheduled events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 06:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (id, title, abbreviated title, [(id, title, abbreviated title), ...])
TOPICS: list[tuple[int, str, str, list[tuple[int, str, str]]]] = [
    (1, "🔥 Hustle", "Hustle", [
        (101, "🦄 Startups", "Startups"), (102, "📈 Marketing", "Marketing"), (103, "💵 Venture Capital",
         "Venture Capital"), (104, "🧑‍💼 Entrepreneurship", "Entrepreneurship"), (105, "🛍 Small Business",
         "Small Business"), (106, "💸 Investing", "Investing")]),
    (2, "🔮 Tech", "Tech", [
        (201, "🤖 AI", "AI"), (202, "👩‍💻 Engineering", "Engineering"), (203, "🔓 Open Source", "Open Source"),
        (204, "🎨 Product", "Product"), (205, "📱 Mobile", "Mobile"), (206, "🔐 Security", "Security")]),
    (3, "🌍 World Affairs", "World Affairs", [
        (301, "🗳 Politics", "Politics"), (302, "📰 News", "News"), (303, "🌱 Climate", "Climate"),
        (304, "🏙 Cities", "Cities")]),
    (4, "🎭 Arts", "Arts", [
        (401, "🎨 Art", "Art"), (402, "📚 Books", "Books"), (403, "✍️ Writing", "Writing"),
        (404, "📸 Photography", "Photography"), (405, "🎬 Film", "Film"), (406, "🏛 Architecture",
         "Architecture")]),
    (5, "🎵 Music", "Music", [
        (501, "🎸 Rock", "Rock"), (502, "🎤 Hip Hop", "Hip Hop"), (503, "🎹 Classical", "Classical"),
        (504, "🎷 Jazz", "Jazz"), (505, "🎧 Electronic", "Electronic"), (506, "🎼 Songwriting", "Songwriting")]),
    (6, "💬 Languages", "Languages", [
        (601, "🇬🇧 English", "English"), (602, "🇪🇸 Spanish", "Spanish"), (603, "🇫🇷 French", "French"),
        (604, "🇩🇪 German", "German"), (605, "🇯🇵 Japanese", "Japanese")]),
    (7, "🌿 Life", "Life", [
        (701, "🧘 Wellness", "Wellness"), (702, "👪 Parenting", "Parenting"), (703, "🍳 Food & Drink",
         "Food & Drink"), (704, "✈️ Travel", "Travel"), (705, "💞 Relationships", "Relationships")]),
    (8, "⚽️ Sports", "Sports", [
        (801, "⚽️ Soccer", "Soccer"), (802, "🏀 Basketball", "Basketball"), (803, "🎾 Tennis", "Tennis"),
        (804, "🏃 Running", "Running"), (805, "🎮 Esports", "Esports")]),
    (9, "🏘 Places", "Places", [
        (901, "🌎 Americas", "Americas"), (902, "🌍 Europe", "Europe"), (903, "🌏 Asia", "Asia"),
        (904, "🌍 Africa", "Africa"), (905, "🏝 Oceania", "Oceania")]),
    (10, "🧠 Knowledge", "Knowledge", [
        (1001, "🔬 Science", "Science"), (1002, "📐 Math", "Math"), (1003, "🏛 History", "History"),
        (1004, "🤔 Philosophy", "Philosophy"), (1005, "⏳ The Future", "The Future"),
        (1006, "🚀 Space", "Space")]),
    (11, "🤝 Community", "Community", [
        (1101, "🙋 Meet People", "Meet People"), (1102, "🌈 Identity", "Identity"), (1103, "🎓 Education",
         "Education"), (1104, "🤲 Volunteering", "Volunteering")]),
]

_topics = sa.table(
    "topics",
    sa.column("id", sa.BigInteger),
    sa.column("parent_id", sa.BigInteger),
    sa.column("title", sa.String),
    sa.column("abbreviated_title", sa.String),
    sa.column("position", sa.Integer),
)


def upgrade() -> None:
    op.create_table('topics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('abbreviated_title', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['topics.id'], name=op.f('fk_topics_parent_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics'))
    )
    with op.batch_alter_table('topics', schema=None) as batch_op:
        batch_op.create_index('ix_topics_parent_id', ['parent_id'], unique=False)

    op.create_table('user_topics',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('topic_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_user_topics_topic_id_topics'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_topics_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'topic_id', name=op.f('pk_user_topics'))
    )
    with op.batch_alter_table('user_topics', schema=None) as batch_op:
        batch_op.create_index('ix_user_topics_topic_id', ['topic_id'], unique=False)

    op.create_table('communities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('name_key', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('photo_url', sa.Text(), nullable=True),
    sa.Column('rules', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('is_follow_allowed', sa.Boolean(), nullable=False),
    sa.Column('is_membership_private', sa.Boolean(), nullable=False),
    sa.Column('is_community', sa.Boolean(), nullable=False),
    sa.Column('enable_private', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_communities_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communities')),
    sa.UniqueConstraint('name_key', name=op.f('uq_communities_name_key'))
    )

    op.create_table('community_members',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('added_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_community_members_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_members_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_community_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'user_id', name=op.f('pk_community_members'))
    )
    with op.batch_alter_table('community_members', schema=None) as batch_op:
        batch_op.create_index('ix_community_members_user_id', ['user_id'], unique=False)

    op.create_table('community_followers',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_followers_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_community_followers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'user_id', name=op.f('pk_community_followers'))
    )
    with op.batch_alter_table('community_followers', schema=None) as batch_op:
        batch_op.create_index('ix_community_followers_user_id', ['user_id'], unique=False)

    op.create_table('community_invites',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invited_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_invites_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'], name=op.f('fk_community_invites_invited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_community_invites_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_invites'))
    )
    with op.batch_alter_table('community_invites', schema=None) as batch_op:
        batch_op.create_index('ix_community_invites_community_user', ['community_id', 'user_id'], unique=True)
        batch_op.create_index('ix_community_invites_user_id', ['user_id'], unique=False)

    op.create_table('community_topics',
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('topic_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_topics_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_community_topics_topic_id_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'topic_id', name=op.f('pk_community_topics'))
    )
    with op.batch_alter_table('community_topics', schema=None) as batch_op:
        batch_op.create_index('ix_community_topics_topic_id', ['topic_id'], unique=False)

    op.create_table('scheduled_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('hashid', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('time_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('club_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('is_member_only', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['club_id'], ['communities.id'], name=op.f('fk_scheduled_events_club_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_scheduled_events_created_by_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scheduled_events')),
    sa.UniqueConstraint('hashid', name=op.f('uq_scheduled_events_hashid'))
    )
    with op.batch_alter_table('scheduled_events', schema=None) as batch_op:
        batch_op.create_index('ix_scheduled_events_club_id', ['club_id'], unique=False)
        batch_op.create_index('ix_scheduled_events_time_start', ['time_start'], unique=False)

    op.create_table('scheduled_event_hosts',
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['scheduled_events.id'], name=op.f('fk_scheduled_event_hosts_event_id_scheduled_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_scheduled_event_hosts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'user_id', name=op.f('pk_scheduled_event_hosts'))
    )
    with op.batch_alter_table('scheduled_event_hosts', schema=None) as batch_op:
        batch_op.create_index('ix_scheduled_event_hosts_user_id', ['user_id'], unique=False)

    rows = []
    for position, (parent_id, title, short, children) in enumerate(TOPICS):
        rows.append({"id": parent_id, "parent_id": None, "title": title, "abbreviated_title": short,
                     "position": position})
        rows += [{"id": i, "parent_id": parent_id, "title": t, "abbreviated_title": s, "position": n}
                 for n, (i, t, s) in enumerate(children)]
    op.bulk_insert(_topics, rows)


def downgrade() -> None:
    op.drop_table('scheduled_event_hosts')
    op.drop_table('scheduled_events')
    op.drop_table('community_topics')
    op.drop_table('community_invites')
    op.drop_table('community_followers')
    op.drop_table('community_members')
    op.drop_table('communities')
    op.drop_table('user_topics')
    op.drop_table('topics')
