"""Who may send Surge activities: botbuilder's Bot Framework authentication, configured from Settings,
with every refusal a `PermissionError` (a 401 at the door, never a 500)."""
from __future__ import annotations

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import CallerIdConstants
from botframework.connector.auth import AuthenticationConstants

from bot.config import Settings
from bot.teams import signing_keys


class Config:
    """The attribute names botbuilder's configuration objects use.

    Every endpoint of the public cloud is spelled out (botbuilder's parameterised authentication), so
    the OpenID metadata URL can be set (MICROSOFT_OPENID_METADATA_URL) and production and tests check
    tokens along the same path.
    """

    def __init__(self, cfg: Settings):
        self.APP_ID = cfg.microsoft_app_id
        self.APP_PASSWORD = cfg.microsoft_app_password
        self.APP_TYPE = cfg.microsoft_app_type
        self.APP_TENANTID = cfg.microsoft_app_tenant_id
        self.TO_CHANNEL_FROM_BOT_LOGIN_URL = AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
        self.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        self.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        self.OAUTH_URL = AuthenticationConstants.OAUTH_URL
        self.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = (
            cfg.microsoft_openid_metadata_url or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL)
        self.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        self.CALLER_ID = CallerIdConstants.public_azure_channel


class Authentication(ConfigurationBotFrameworkAuthentication):
    """Every refusal is a `PermissionError` (401), never a server error (500).

    With no app id (emulator mode) no token can ever be valid, so one that is sent is refused
    without fetching any keys; with an app id, the keys come through `signing_keys`.
    """

    def __init__(self, config: Config):
        super().__init__(config)
        self.emulator = not config.APP_ID
        signing_keys.install(config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
                             config.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL)

    async def authenticate_request(self, activity, auth_header: str | None):
        if self.emulator and auth_header:
            raise PermissionError("emulator mode (no MICROSOFT_APP_ID) takes no tokens")
        if not self.emulator and not auth_header:
            raise PermissionError("no Authorization header")
        try:
            return await super().authenticate_request(activity, auth_header or None)
        except PermissionError:
            raise
        except Exception as exc:  # botbuilder refuses some tokens with a bare Exception
            raise PermissionError(f"token refused ({type(exc).__name__})") from exc


def authentication(cfg: Settings) -> Authentication:
    return Authentication(Config(cfg))
