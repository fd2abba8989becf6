"""The directory: what is listed when, and cursor pagination with `after`."""

from __future__ import annotations

from tests.fixtures_emulator import EMULATOR_NOW


def _all(client, path: str, **params) -> tuple[list[dict], int]:
    items, pages, after = [], 0, None
    while True:
        query = {**params, **({"after": after} if after else {})}
        page = client.get(path, params=query).json()
        pages += 1
        items += page["data"]
        if page["data"]:
            assert (page["first_id"], page["last_id"]) == (
                page["data"][0]["id"],
                page["data"][-1]["id"],
            )
        if not page["has_more"]:
            return items, pages
        after = page["last_id"]


def test_it_pages_every_list_with_after_and_the_real_first_and_last_ids(emulator, emulator_client):
    truth = emulator.directory_truth()
    projects, pages = _all(
        emulator_client, "/organization/projects", include_archived="true", limit=2
    )
    assert projects == truth["projects"]
    assert pages == -(-len(projects) // 2)
    users, _ = _all(emulator_client, "/organization/users", limit=3)
    assert users == truth["users"]
    for project in truth["projects"]:
        path = f"/organization/projects/{project['id']}/api_keys"
        keys, _ = _all(emulator_client, path, owner_project_access="any", limit=1)
        assert keys == truth["api_keys"][project["id"]]


def test_it_lists_archived_projects_only_when_asked(emulator_client):
    active, _ = _all(emulator_client, "/organization/projects")
    everything, _ = _all(emulator_client, "/organization/projects", include_archived="true")
    archived = [p for p in everything if p["status"] == "archived"]
    assert archived and all(p["archived_at"] for p in archived)
    assert active == [p for p in everything if p["status"] == "active"]


def test_it_answers_400_for_members_of_an_archived_project(emulator, emulator_client):
    archived = next(p for p in emulator.directory_truth()["projects"] if p["status"] == "archived")
    for kind in ("users", "service_accounts"):
        response = emulator_client.get(f"/organization/projects/{archived['id']}/{kind}")
        assert response.status_code == 400


def test_it_shows_the_directory_as_it_was_at_the_time(emulator):
    then, now = emulator.directory_truth(now=1740000000), emulator.directory_truth()
    assert len(then["projects"]) < len(now["projects"])
    assert len(then["users"]) < len(now["users"])
    assert all(p["status"] == "active" for p in then["projects"])


def test_it_hides_keys_of_owners_without_access_unless_asked(emulator, emulator_client):
    inactive = [k for k in emulator.org().keys if k.owner_access == "inactive"]
    key = next(k for k in inactive if not k.deleted_at or k.deleted_at > EMULATOR_NOW)
    path = f"/organization/projects/{key.project_id}/api_keys"
    default = {k["id"] for k in emulator_client.get(path).json()["data"]}
    anyone = {
        k["id"]
        for k in emulator_client.get(path, params={"owner_project_access": "any"}).json()["data"]
    }
    assert key.id not in default and key.id in anyone


def test_it_filters_users_by_email(emulator, emulator_client):
    users = emulator.directory_truth()["users"]
    emails = [users[1]["email"], users[3]["email"].upper()]
    found = emulator_client.get("/organization/users", params={"emails[]": emails}).json()["data"]
    assert [u["id"] for u in found] == [users[1]["id"], users[3]["id"]]


def test_it_retrieves_single_objects_and_404s_unknown_ones(emulator, emulator_client):
    truth = emulator.directory_truth()
    project = truth["projects"][0]
    assert emulator_client.get(f"/organization/projects/{project['id']}").json() == project
    user = truth["users"][0]
    assert emulator_client.get(f"/organization/users/{user['id']}").json() == user
    key = truth["api_keys"][project["id"]][0]
    path = f"/organization/projects/{project['id']}/api_keys/{key['id']}"
    assert emulator_client.get(path).json() == key
    for missing in ("/organization/projects/proj_nope", "/organization/users/user-nope",
                    "/organization/admin_api_keys/key_nope", "/organization/nothing"):  # fmt: skip
        assert emulator_client.get(missing).status_code == 404


def test_it_orders_admin_keys_both_ways(emulator_client):
    ascending = emulator_client.get("/organization/admin_api_keys").json()["data"]
    descending = emulator_client.get("/organization/admin_api_keys?order=desc").json()["data"]
    assert descending == ascending[::-1] and len(ascending) > 1
