"""A real mutual-TLS handshake between python-oracledb (thin) and a local TLS server.

No Oracle database can run here, but the part of an Autonomous Database connection
that a wallet controls is plain TLS. ``openssl s_server`` plays the database's TLS
front: it demands a client certificate signed by the test CA, like ATP does. The
wallet is built the way the Oracle console builds ``ewallet.pem``: an encrypted
PKCS#8 private key, then the client certificate, then the CA certificate.

What the server prints proves what happened on the wire: with the right wallet
password it verifies our client certificate and then receives Oracle Net's CONNECT
packet in clear text (so TLS is done and the driver moved on to its own protocol);
with a wrong one it reports that the peer sent no certificate at all. (A *missing*
wallet password is not provoked for real: OpenSSL would then prompt on the
developer's terminal; ``test_oracle_wallet.py`` covers it with the observed error.)
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import oracledb
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dmledger.cloud.connecting.oracle_failures import explain_oracle_error
from dmledger.cloud.connecting.oracle_wallet import OracleWallet, connect_params, load_wallet
from dmledger.errors import CloudUnavailable, ConfigError

OPENSSL = shutil.which("openssl")
WALLET_PASSWORD = "Wallet-Pass#2024"
DB_PASSWORD = "Db-Secret#9876"
ALIAS = "dmledger_high"
SERVICE = "abc_dmledger_high.adb.oraclecloud.com"
CLIENT_CN = "dmledger test client"
# Upper bound for one handshake; past it the server is killed, which unblocks the
# driver (thin mode has no read timeout while connecting).
WATCHDOG_SECONDS = 20.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", autouse=True)
def _need_openssl() -> None:
    if OPENSSL is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl is not installed; CI must provide it for the mTLS tests")
        pytest.skip("openssl is not installed; the mTLS tests need `openssl s_server`")


# --------------------------------------------------------------------------- certificates


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Ca:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, common_name: str) -> Ca:
        # RSA 2048, as in console wallets.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    def issue(
        self, common_name: str, usage: x509.ObjectIdentifier, *, server: bool = False
    ) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
        return key, builder.sign(self.key, hashes.SHA256())


@dataclass(frozen=True)
class Pki:
    folder: Path  # the server's files: ca.pem, server.pem, server.key
    ewallet_pem: bytes  # the client's wallet file, encrypted with WALLET_PASSWORD
    foreign_ewallet_pem: bytes  # a wallet from another CA (another database)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = Ca.create("dmledger test CA")
    server_key, server_cert = ca.issue("localhost", ExtendedKeyUsageOID.SERVER_AUTH, server=True)
    client_key, client_cert = ca.issue(CLIENT_CN, ExtendedKeyUsageOID.CLIENT_AUTH)
    (folder / "ca.pem").write_bytes(_pem(ca.cert))
    (folder / "server.pem").write_bytes(_pem(server_cert))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    encrypted_key = client_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(WALLET_PASSWORD.encode()),
    )
    assert encrypted_key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")

    other_ca = Ca.create("another database's CA")
    other_key, other_cert = other_ca.issue(CLIENT_CN, ExtendedKeyUsageOID.CLIENT_AUTH)
    other_encrypted_key = other_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(WALLET_PASSWORD.encode()),
    )
    return Pki(
        folder=folder,
        ewallet_pem=encrypted_key + _pem(client_cert) + _pem(ca.cert),
        foreign_ewallet_pem=other_encrypted_key + _pem(other_cert) + _pem(other_ca.cert),
    )


# --------------------------------------------------------------------------- the TLS server


class TlsServer:
    """``openssl s_server`` on 127.0.0.1 that requires a CA-signed client certificate.

    It serves one connection (``-naccept 1``). When the client's first Oracle Net
    packet arrives, stdin is closed, which makes s_server close the connection the
    way a database would drop an unexpected peer. A watchdog kills it after
    ``WATCHDOG_SECONDS``; ``__exit__`` always reaps it, so no process outlives a test.
    """

    def __init__(self, pki: Pki, *extra_args: str) -> None:
        self._pki = pki
        self._extra_args = extra_args
        self._output = bytearray()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._watchdog: threading.Timer | None = None
        self.port = 0

    def __enter__(self) -> TlsServer:
        for _attempt in range(3):
            self.port = _free_port()
            self._start()
            if self._ready.wait(timeout=10):
                return self
            self._stop()  # the port was taken in between, or openssl failed
        raise RuntimeError(f"openssl s_server did not start:\n{self.output}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    @property
    def output(self) -> str:
        with self._lock:
            return bytes(self._output).decode("utf-8", errors="replace")

    def wait_finished(self) -> None:
        """Wait for the server to exit after its one connection, then for its output."""
        assert self._process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=10)

    def _start(self) -> None:
        assert OPENSSL is not None
        folder = self._pki.folder
        self._output.clear()
        self._ready.clear()
        self._process = subprocess.Popen(
            [
                OPENSSL,
                "s_server",
                "-accept",
                f"127.0.0.1:{self.port}",
                "-naccept",
                "1",
                "-cert",
                str(folder / "server.pem"),
                "-key",
                str(folder / "server.key"),
                "-CAfile",
                str(folder / "ca.pem"),
                "-Verify",
                "1",
                "-verify_return_error",
                *self._extra_args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read, name="s_server-output")
        self._reader.start()
        self._watchdog = threading.Timer(WATCHDOG_SECONDS, self._process.kill)
        self._watchdog.start()

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        # os.read returns whatever has arrived, so the output is seen as it comes.
        while chunk := os.read(process.stdout.fileno(), 65536):
            with self._lock:
                self._output.extend(chunk)
                seen = bytes(self._output)
            if b"ACCEPT" in seen:
                self._ready.set()
            if b"CONNECT_DATA" in seen.upper():
                self._close_stdin()

    def _close_stdin(self) -> None:
        process = self._process
        if process is not None and process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(OSError):  # s_server already gone
                process.stdin.close()

    def _stop(self) -> None:
        process = self._process
        if process is None:
            return
        if self._watchdog is not None:
            self._watchdog.cancel()
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=10)
        self._close_stdin()
        if process.stdout is not None:
            process.stdout.close()
        self._process = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- wallets


def make_wallet_dir(folder: Path, ewallet_pem: bytes, port: int, security: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ewallet.pem").write_bytes(ewallet_pem)
    # retry_count=0 so a refused attempt is not retried (console wallets say 20).
    (folder / "tnsnames.ora").write_text(
        f"{ALIAS} = (description=(retry_count=0)(retry_delay=1)"
        f"(address=(protocol=tcps)(port={port})(host=127.0.0.1))"
        f"(connect_data=(service_name={SERVICE}))"
        f"(security={security}))\n",
        encoding="utf-8",
    )
    return folder


def connect_through(server: TlsServer, w: OracleWallet) -> oracledb.Error:
    """Connect with our parameters; the server never speaks Oracle Net, so it fails."""
    with pytest.raises(oracledb.Error) as caught:
        oracledb.connect(**connect_params(w))
    server.wait_finished()
    return caught.value


def chain(exc: BaseException) -> Iterator[BaseException]:
    current: BaseException | None = exc
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


@pytest.fixture
def wallet_folder(tmp_path: Path) -> Path:
    return tmp_path / "Wallet_dmledger"


# --------------------------------------------------------------------------- tests


def test_right_wallet_password_completes_the_mtls_handshake(pki: Pki, wallet_folder: Path) -> None:
    with TlsServer(pki) as server:
        make_wallet_dir(wallet_folder, pki.ewallet_pem, server.port, "(ssl_server_dn_match=no)")
        w = load_wallet(wallet_folder, ALIAS, "DMLEDGER_APP", DB_PASSWORD, WALLET_PASSWORD)

        raised = connect_through(server, w)
        log = server.output

    # The server verified our client certificate against its CA ...
    assert re.search(rf"depth=0 CN ?= ?{CLIENT_CN}\s+verify return:1", log), log
    assert re.search(rf"subject=.*{CLIENT_CN}", log), log
    assert "CIPHER is" in log
    # ... and then read the driver's Oracle Net CONNECT packet through the tunnel.
    assert f"(SERVICE_NAME={SERVICE})".upper() in log.upper()
    # The driver failed *after* TLS: the server hung up on its protocol, and no TLS
    # or wallet error is anywhere in the chain.
    assert "DPY-4011" in str(raised)
    assert not any(isinstance(link, ssl.SSLError) for link in chain(raised))
    err = explain_oracle_error(raised, w)
    assert isinstance(err, CloudUnavailable)
    assert "closed by the database or the network" in str(err)
    assert "wallet password" not in str(err).lower()


@pytest.mark.parametrize(
    ("tls_version", "alert"),
    [
        ("-tls1_3", "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
        ("-tls1_2", "SSLV3_ALERT_HANDSHAKE_FAILURE"),
    ],
)
def test_wrong_wallet_password_is_explained_as_such(
    pki: Pki, wallet_folder: Path, tls_version: str, alert: str
) -> None:
    with TlsServer(pki, tls_version) as server:
        make_wallet_dir(wallet_folder, pki.ewallet_pem, server.port, "(ssl_server_dn_match=no)")
        with pytest.raises(ConfigError, match="Wrong wallet password"):
            load_wallet(wallet_folder, ALIAS, "DMLEDGER_APP", DB_PASSWORD, "not-the-password")
        # Bypass load_wallet's check to see what the driver itself does.
        w = OracleWallet(
            wallet_folder.resolve(), ALIAS, "DMLEDGER_APP", DB_PASSWORD, "not-the-password"
        )

        raised = connect_through(server, w)
        log = server.output

    # The driver swallowed the key's decrypt error and sent no certificate at all.
    assert "peer did not return a certificate" in log, log
    assert "DPY-6005" in str(raised)
    assert alert in str(raised)
    assert any(isinstance(link, ssl.SSLError) for link in chain(raised))
    err = explain_oracle_error(raised, w)
    assert isinstance(err, CloudUnavailable)
    assert str(err).startswith("Wrong wallet password: it does not open the client key in")
    assert "DMLEDGER_WALLET_PASSWORD" in str(err)
    assert "not-the-password" not in str(err)
    assert DB_PASSWORD not in str(err)


def test_wallet_from_another_database_is_explained(pki: Pki, wallet_folder: Path) -> None:
    with TlsServer(pki) as server:
        make_wallet_dir(
            wallet_folder, pki.foreign_ewallet_pem, server.port, "(ssl_server_dn_match=no)"
        )
        w = load_wallet(wallet_folder, ALIAS, "DMLEDGER_APP", DB_PASSWORD, WALLET_PASSWORD)

        raised = connect_through(server, w)

    assert any(isinstance(link, ssl.SSLCertVerificationError) for link in chain(raised))
    err = explain_oracle_error(raised, w)
    assert isinstance(err, CloudUnavailable)
    assert "not signed by a CA in the wallet" in str(err)


def test_server_certificate_dn_mismatch_is_explained(pki: Pki, wallet_folder: Path) -> None:
    with TlsServer(pki) as server:
        make_wallet_dir(
            wallet_folder,
            pki.ewallet_pem,
            server.port,
            '(ssl_server_dn_match=yes)(ssl_server_cert_dn="CN=adb.eu-frankfurt-1.oraclecloud.com")',
        )
        w = load_wallet(wallet_folder, ALIAS, "DMLEDGER_APP", DB_PASSWORD, WALLET_PASSWORD)

        raised = connect_through(server, w)

    assert "DPY-6002" in str(raised)
    err = explain_oracle_error(raised, w)
    assert isinstance(err, CloudUnavailable)
    assert "does not match the name tnsnames.ora expects" in str(err)
