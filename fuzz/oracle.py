"""An independent reading of "is this a secret?" for the fuzz target and property tests.

It deliberately does not reuse the firewall's parser: it decodes the way a
lenient upstream might (repeated percent-decoding, backslash as slash, dot
segments resolved, trailing dots dropped, case folded) and looks for the
secret endpoints by name. If the firewall ever ALLOWs a request whose
upstream target reads as a secret under this lenient reading, that is a bypass.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from podwarden.metadata.model import ProviderName

SECRETS: dict[ProviderName, re.Pattern[str]] = {
    ProviderName.AWS: re.compile(
        r"/(meta-data/iam|meta-data/identity-credentials|user-data"
        r"|dynamic/instance-identity/(pkcs7|signature|rsa2048))(/|$)"
    ),
    ProviderName.GCE: re.compile(
        r"/attributes/(kube-env|user-data|startup-script|shutdown-script)(/|$)"
        r"|/service-accounts/[^/]+/(token|identity)(/|$)"
    ),
    ProviderName.AZURE: re.compile(
        r"^/metadata/(identity|attested)(/|$)|^/metadata/instance/compute/(userdata|customdata)(/|$)"
    ),
}


def lenient_path(target: str) -> str:
    """The most generous reading any server might give the path of `target`."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    for _ in range(4):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    path = path.replace("\\", "/").replace("\x00", "")
    path = posixpath.normpath(re.sub("/+", "/", "/" + path))
    segments = [segment.rstrip(". ") for segment in path.split("/")]
    return "/".join(segments).lower()


def reads_as_secret(provider: ProviderName, target: str) -> bool:
    """True when `target` could reach one of `provider`'s secret endpoints."""
    path = lenient_path(target)
    if SECRETS[provider].search(path):
        return True
    query = target.partition("?")[2].lower()
    if provider is ProviderName.GCE and "recursive" in query:
        return re.fullmatch(r"/computemetadata/v1/instance/service-accounts/[^/]+", path) is None
    return False
