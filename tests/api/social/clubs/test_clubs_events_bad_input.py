"""No junk sent to the clubs, topics and events endpoints ends in a server error."""

from __future__ import annotations

from typing import Any

ENDPOINTS = [
    "create_club", "get_club", "get_club_members", "get_clubs", "get_clubs_for_topic", "search_clubs",
    "follow_club", "unfollow_club", "add_club_member", "remove_club_member", "leave_club",
    "accept_club_member_invite", "add_club_admin", "remove_club_admin", "get_club_nominations",
    "approve_club_nomination", "reject_club_nomination", "update_club_description", "update_club_rules",
    "update_is_follow_allowed", "update_is_membership_private", "update_is_community", "add_club_topic",
    "remove_club_topic", "get_all_topics", "get_topic", "get_users_for_topic", "add_user_topic",
    "remove_user_topic", "get_suggested_club_invites", "create_event", "edit_event", "delete_event", "get_event", "get_events",
    "get_events_for_user", "get_events_for_club", "get_events_to_start",
]
JUNK: list[dict[str, Any]] = [
    {}, {"club_id": "x", "user_id": "y", "topic_id": "z", "event_id": "e"},
    {"club_id": 2**62, "user_id": 2**62, "topic_id": 2**62, "event_id": 2**62, "invite_nomination_id": 2**62},
    {"club_id": [1], "user_id": {"a": 1}, "topic_id": [], "event_id": 1.5, "event_hashid": ["x"]},
    {"name": ["x"], "description": {"d": 1}, "rules": 5, "topic_ids": "abc", "query": 7, "message": [1],
     "is_follow_allowed": "maybe", "is_membership_private": [], "is_community": {}},
    {"name": "ok", "time_start_epoch": "nan", "user_ids": [2**62, -1], "club_id": 0, "is_member_only": "x"},
    {"name": "ok", "time_start": "inf", "user_ids": "1,2,x", "page": "p", "page_size": -5},
    {"name": "ok", "time_start": 1e30, "is_filtered": "sometimes", "return_followers": "x"},
]


async def test_junk_input_gets_a_json_error_never_a_server_error(people: Any) -> None:
    (ada,) = await people("ada")
    for endpoint in ENDPOINTS:
        for body in JUNK:
            response = await ada.call(endpoint, body)
            assert response.status_code < 500, (endpoint, body, response.text)
            data = response.json()
            assert isinstance(data, dict) and "success" in data, (endpoint, body, data)
        response = await ada.call(endpoint, method="GET", query={"club_id": "1 OR 1=1", "topic_id": "%",
                                                                 "event_id": "", "user_id": "-0"})
        assert response.status_code < 500, (endpoint, response.text)
