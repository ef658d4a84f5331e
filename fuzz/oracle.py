"""An independent reading of "is this a secret?" for the fuzz target and property tests.

It deliberately does not reuse the firewall's parser: it decodes the way a
lenient upstream might (repeated percent-decoding, backslash as slash, dot
segments resolved, trailing dots dropped, case folded) and looks for the
secret endpoints by name. If the firewall ever ALLOWs a request whose
upstream target reads as a secret under this lenient reading, that is a bypass.

GCE attributes follow GKE's metadata server: every attribute but
cluster-name, cluster-location and cluster-uid is a secret (written out here
again, not imported). A listing of `attributes/` (recursive or not) holds them
all, so forwarding one is fine only when the answer is filtered:
`filtered_read` names those reads and `hides_secrets` feeds a transform
answers full of secrets and checks that none comes out.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable
from urllib.parse import unquote

from podwarden.metadata.model import ProviderName

SECRETS: dict[ProviderName, re.Pattern[str]] = {
    ProviderName.AWS: re.compile(
        r"/(meta-data/iam|meta-data/identity-credentials|user-data"
        r"|dynamic/instance-identity/(pkcs7|signature|rsa2048))(/|$)"
    ),
    ProviderName.GCE: re.compile(
        r"/attributes/(?!(?:cluster-name|cluster-location|cluster-uid)/?$)[^/]+"
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


_FILTERED_GCE = re.compile(r"/computemetadata/v1/(instance|project)/attributes")
_SECRET_ATTRIBUTES = ("kube-env", "startup-script", "windows-startup-script-ps1", "ssh-keys")
MARKER = "ORACLE-SECRET-51c2"


def filtered_read(provider: ProviderName, target: str) -> bool:
    """A read whose answer holds secrets and may be forwarded only to be filtered."""
    return provider is ProviderName.GCE and bool(_FILTERED_GCE.fullmatch(lenient_path(target)))


def reads_as_secret(provider: ProviderName, target: str) -> bool:
    """True when `target` could reach one of `provider`'s secret endpoints."""
    path = lenient_path(target)
    if SECRETS[provider].search(path) or filtered_read(provider, target):
        return True
    query = target.partition("?")[2].lower()
    if provider is ProviderName.GCE and "recursive" in query:
        return re.fullmatch(r"/computemetadata/v1/instance/service-accounts/[^/]+", path) is None
    return False


def secret_answers() -> tuple[bytes, ...]:
    """What an upstream may answer to a filtered read: recursive JSON, a listing, junk."""
    document = {name: MARKER for name in _SECRET_ATTRIBUTES} | {"cluster-name": "c"}
    listing = "".join(f"{name}\n" for name in (*_SECRET_ATTRIBUTES, "cluster-name"))
    return (json.dumps(document).encode(), listing.encode(), MARKER.encode())


def hides_secrets(transform: Callable[[bytes], bytes] | None) -> bool:
    """True when `transform` lets neither a secret value nor a secret name through."""
    if transform is None:
        return False
    for body in secret_answers():
        out = transform(body).decode("utf-8", "replace")
        if MARKER in out or any(name in out for name in _SECRET_ATTRIBUTES):
            return False
    return True
