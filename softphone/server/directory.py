"""Who can call whom: the simulator's users and the 1:1 conversation each pair shares.

The real service owns users and conversations; the simulator only needs a fixed set of demo users,
loaded from a TOML file (the bundled ``directory.toml`` unless another one is given), and for load
tests as many generated users as asked for. Conversation ids are computed from the pair when asked,
never stored, so thousands of users cost nothing at start.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

BUNDLED_DIRECTORY = Path(__file__).with_name("directory.toml")
FIRST_GENERATED_ID = 100_001


@dataclass(frozen=True)
class User:
    user_id: int
    name: str
    display_name: str


def generated_user(number: int) -> User:
    """The ``number``-th generated user (from 1): ``u0001``, id 100001, shown as ``User 0001``."""
    return User(FIRST_GENERATED_ID + number - 1, f"u{number:04d}", f"User {number:04d}")


class Directory:
    """An immutable set of users, found by id or by name."""

    def __init__(self, users: list[User]) -> None:
        self.users: tuple[User, ...] = tuple(sorted(users, key=lambda user: user.user_id))
        self._by_id = {user.user_id: user for user in self.users}
        self._by_name = {user.name: user for user in self.users}
        if len(self._by_id) != len(self.users) or len(self._by_name) != len(self.users):
            raise ValueError("directory: user ids and names must be unique")
        # The phone shows display names ("Alice"), so a login may use one, where it names one user only.
        display_names = Counter(user.display_name for user in self.users)
        self._by_display_name = {
            user.display_name: user
            for user in self.users
            if display_names[user.display_name] == 1 and user.display_name not in self._by_name
        }

    @classmethod
    def load(cls, path: Path = BUNDLED_DIRECTORY) -> Directory:
        """Read ``[[users]]`` tables of ``user_id``, ``name`` and ``display_name``."""
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        users = [
            User(int(entry["user_id"]), str(entry["name"]), str(entry["display_name"]))
            for entry in document.get("users", [])
        ]
        if any(user.user_id <= 0 for user in users):
            raise ValueError(f"{path}: user ids must be positive")
        return cls(users)

    def with_generated(self, count: int) -> Directory:
        """This directory plus ``count`` generated users."""
        return Directory([*self.users, *(generated_user(number) for number in range(1, count + 1))])

    def get(self, user_id: int) -> User | None:
        return self._by_id.get(user_id)

    def find(self, key: str | int) -> User | None:
        """A login names a user (or gives the display name the phone shows), or gives its id."""
        if isinstance(key, int):
            return self._by_id.get(key)
        found = self._by_name.get(key) or self._by_display_name.get(key)
        if found is not None:
            return found
        return self._by_id.get(int(key)) if key.isdecimal() else None

    def login_names(self) -> list[str]:
        """Every string ``find`` knows: names, then the display names that name one user."""
        return [user.name for user in self.users] + list(self._by_display_name)

    @staticmethod
    def conversation_id(first: User, second: User) -> int:
        """A positive id per unordered pair that stays the same across restarts and directories."""
        low, high = sorted((first.user_id, second.user_id))
        digest = hashlib.sha256(f"{low}:{high}".encode()).digest()
        return int.from_bytes(digest[:4], "big") % 900_000_000 + 100_000_000
