def test_me_with_token_returns_the_user(user_api, user):
    r = user_api.get("accounts/me")
    assert r.status_code == 200, r.content
    assert r.json()["username"] == user.username


def test_me_without_auth_is_401_in_the_error_shape(anon_api):
    r = anon_api.get("accounts/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
