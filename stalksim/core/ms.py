"""beanstalkd's `Ms`: an unordered set in an array, with swap removal and a take cursor.

Its quirks are observable: list-tubes and list-tubes-watched show the array order (a removed
entry's slot is filled by the last one), and waiting reservers are served by `take`, whose
cursor survives between takes, so 4 waiters come out A, B, D, C (beanstalkd's own unit test
pins 1..6 -> 1, 2, 3, 6, 5, 4).
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Ms(Generic[T]):
    __slots__ = ("items", "last")

    def __init__(self) -> None:
        self.items: list[T] = []
        self.last = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __contains__(self, item: object) -> bool:
        return item in self.items

    def append(self, item: T) -> None:
        self.items.append(item)

    def _delete(self, i: int) -> None:
        items = self.items
        last = items.pop()
        if i < len(items):
            items[i] = last

    def remove(self, item: T) -> bool:
        """Remove `item`; the last entry moves into its slot. False if absent."""
        items = self.items
        for i, x in enumerate(items):
            if x is item:
                self._delete(i)
                return True
        return False

    def take(self) -> T | None:
        """Take the entry at the cursor, then move the cursor on (beanstalkd's ms_take)."""
        items = self.items
        if not items:
            return None
        self.last %= len(items)
        item = items[self.last]
        self._delete(self.last)
        self.last += 1
        return item
