"""Pod identity per cloud: one module each, listed here explicitly.

Adding a cloud means one module exposing an `IdentityProvider` (see
`identity/provider.py`) and one line in the table below; nothing is
discovered by import side effects.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from podwarden.metadata.identity import provider
from podwarden.metadata.identity.providers import aws, azure, gce
from podwarden.metadata.model import ProviderName

STARTERS: dict[ProviderName, Callable[[provider.Context], Awaitable[provider.Wired]]] = {
    ProviderName.AWS: functools.partial(provider.build, aws.PROVIDER),
    ProviderName.GCE: functools.partial(provider.build, gce.PROVIDER),
    ProviderName.AZURE: functools.partial(provider.build, azure.PROVIDER),
}
"""Provider name -> how to open its source and wire it for one proxy."""
