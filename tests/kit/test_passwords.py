"""Query passwords: keyed HMAC hashes, legacy argon2id hashes still accepted."""

from __future__ import annotations

import asyncio
import threading

from argon2 import PasswordHasher

from kameng.kit.passwords import SCHEME, QueryPasswords

KEY = b"k" * 32
OTHER = b"o" * 32


async def test_a_new_hash_verifies_and_a_wrong_password_does_not() -> None:
    passwords = QueryPasswords(KEY)
    stored = passwords.hash("pass1234")
    assert stored.startswith(SCHEME)
    assert await passwords.verify(stored, "pass1234") is True
    assert await passwords.verify(stored, "pass1235") is False
    assert await passwords.verify(stored, "") is False
    assert await passwords.verify(stored, None) is False
    assert await passwords.verify(None, "pass1234") is False


async def test_hashes_are_salted_and_never_hold_the_password() -> None:
    passwords = QueryPasswords(KEY)
    first, second = passwords.hash("pass1234"), passwords.hash("pass1234")
    assert first != second
    assert "pass1234" not in first
    assert await passwords.verify(first, "pass1234") and await passwords.verify(second, "pass1234")


async def test_another_secret_does_not_verify() -> None:
    stored = QueryPasswords(KEY).hash("pass1234")
    assert await QueryPasswords(OTHER).verify(stored, "pass1234") is False


async def test_a_hash_made_under_an_old_secret_verifies_while_that_secret_is_kept() -> None:
    stored = QueryPasswords(OTHER).hash("pass1234")
    assert await QueryPasswords(KEY, [OTHER]).verify(stored, "pass1234") is True
    assert await QueryPasswords(KEY, [OTHER]).verify(stored, "wrong") is False


async def test_tampered_or_garbage_hashes_never_verify() -> None:
    passwords = QueryPasswords(KEY)
    stored = passwords.hash("pass1234")
    prefix, salt, mac = stored.rsplit("$", 2)
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    for bad in (
        f"{prefix}${salt}${flipped}",
        f"{prefix}$${mac}",
        f"{prefix}${salt}$",
        f"{SCHEME}zzzzzz${salt}${mac}",
        f"{prefix}$!!!$***",
        "pass1234",
        "$argon2id$garbage",
    ):
        assert await passwords.verify(bad, "pass1234") is False, bad


async def test_a_legacy_argon2_hash_still_verifies_off_the_event_loop() -> None:
    legacy = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1).hash("pass1234")
    assert legacy.startswith("$argon2id$")
    passwords = QueryPasswords(KEY)
    loop_thread = threading.get_ident()
    seen: list[int] = []

    import kameng.kit.passwords as module

    original = module._verify_argon2

    def spy(stored: str, password: str) -> bool:
        seen.append(threading.get_ident())
        return original(stored, password)

    module._verify_argon2 = spy
    try:
        assert await passwords.verify(legacy, "pass1234") is True
        assert await passwords.verify(legacy, "wrong") is False
    finally:
        module._verify_argon2 = original
    assert len(seen) == 2 and loop_thread not in seen


def test_hash_and_keyed_verify_need_no_event_loop_and_no_thread() -> None:
    passwords = QueryPasswords(KEY)
    stored = passwords.hash("pass1234")
    assert passwords.verify_keyed(stored, "pass1234") is True
    assert passwords.verify_keyed(stored, "nope") is False
    assert asyncio.run(passwords.verify(stored, "pass1234")) is True
