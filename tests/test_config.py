"""Configuration: defaults → databoard.toml → environment, with clear errors."""

from pathlib import Path

import pytest

from databoard.config import ConfigError, load_config, write_config_file


def test_defaults_use_sqlite_in_the_data_home(tmp_path):
    config = load_config({"DATABOARD_HOME": str(tmp_path)})
    assert config.home == tmp_path
    assert config.effective_database_url == f"sqlite:///{(tmp_path / 'databoard.sqlite3').resolve()}"
    assert config.effective_artifacts_url == str((tmp_path / "artifacts").resolve())
    assert config.require_approval is True
    assert len(config.secret_key) >= 40  # a random key until `databoard init` writes one


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path):
    (tmp_path / "databoard.toml").write_text(
        'secret_key = "from-file"\nmax_upload_bytes = 1000\nrequire_approval = false\n'
        'allowed_hosts = ["a.example", "b.example"]\n')
    env = {"DATABOARD_HOME": str(tmp_path), "DATABOARD_MAX_UPLOAD_BYTES": "2000",
           "DATABASE_URL": "postgresql://u@h:5432/db"}
    config = load_config(env)
    assert config.secret_key == "from-file"
    assert config.require_approval is False
    assert config.allowed_hosts == ("a.example", "b.example")
    assert config.max_upload_bytes == 2000
    assert config.effective_database_url == "postgresql://u@h:5432/db"
    assert config.config_file == tmp_path / "databoard.toml"


def test_databoard_config_names_another_file(tmp_path):
    other = tmp_path / "elsewhere.toml"
    other.write_text('base_url = "https://board.example.org"\n')
    config = load_config({"DATABOARD_HOME": str(tmp_path / "home"), "DATABOARD_CONFIG": str(other)})
    assert config.base_url == "https://board.example.org"


@pytest.mark.parametrize("content, fragment", [
    ("secret_key = ", "not valid TOML"),
    ("no_such_setting = 1\n", "unknown setting 'no_such_setting'"),
    ("max_upload_bytes = 'lots'\n", "Setting 'max_upload_bytes' is invalid"),
    ("require_approval = 'maybe'\n", "Setting 'require_approval' is invalid"),
    ("allowed_hosts = 3\n", "Setting 'allowed_hosts' is invalid"),
])
def test_bad_config_file_names_the_problem(tmp_path, content, fragment):
    (tmp_path / "databoard.toml").write_text(content)
    with pytest.raises(ConfigError, match=fragment):
        load_config({"DATABOARD_HOME": str(tmp_path)})


def test_bad_environment_value_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="DATABOARD_LOGIN_FAILURES_PER_MINUTE"):
        load_config({"DATABOARD_HOME": str(tmp_path), "DATABOARD_LOGIN_FAILURES_PER_MINUTE": "ten"})


def test_config_file_is_written_once_with_a_secret_and_private_mode(tmp_path):
    path = tmp_path / "home" / "databoard.toml"
    assert write_config_file(path) is True
    first = path.read_text()
    assert write_config_file(path) is False
    assert path.read_text() == first
    assert path.stat().st_mode & 0o777 == 0o600
    config = load_config({"DATABOARD_HOME": str(path.parent)})
    assert config.secret_key in first and len(config.secret_key) >= 40


def test_written_config_file_loads_with_every_default(tmp_path):
    write_config_file(tmp_path / "databoard.toml")
    loaded = load_config({"DATABOARD_HOME": str(tmp_path)})
    defaults = load_config({"DATABOARD_HOME": str(tmp_path / "none")})
    for name in ("database_url", "base_url", "max_upload_bytes", "require_approval", "email_backend"):
        assert getattr(loaded, name) == getattr(defaults, name)
    assert isinstance(loaded.home, Path)
