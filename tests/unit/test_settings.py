"""Settings checked at start: what a deployer can get wrong gets one clear line."""

import pytest

from bot.core.errors import ConfigError
from bot.settings import load_settings


def test_settings_refuse_half_a_tls_pair_a_missing_file_and_auth_without_its_password(tmp_path, monkeypatch):
    cfg = tmp_path / "bot.toml"
    cfg.write_text('[smtp]\ntls_cert = "/etc/ssl/certs/none.pem"\n')
    with pytest.raises(ConfigError, match="tls_cert and smtp.tls_key go together"):
        load_settings(cfg)
    cfg.write_text(f'[smtp]\ntls_cert = "{tmp_path}/c.pem"\ntls_key = "{tmp_path}/k.pem"\n')
    with pytest.raises(ConfigError, match="smtp.tls_cert: no such file"):
        load_settings(cfg)
    cfg.write_text('[smtp]\nauth_user = "relay"\n')
    monkeypatch.delenv("BOT_SMTP_AUTH_PASSWORD", raising=False)
    assert load_settings(cfg).missing_secrets() == ["BOT_SMTP_AUTH_PASSWORD (smtp.auth_user)"]
