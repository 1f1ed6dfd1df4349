"""The description filters of the corpus pipeline: English (the Lingua detector, as the
paper), and 10 to 512 whitespace tokens.

``lingua-language-detector`` is an optional dependency (``pip install utrs[testgen]``);
the detector is built once, on first use, over a set of widespread languages (all 75
take ten times the memory and time and change nothing for docstrings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LanguageFilter", "length_ok"]

_LANGUAGES = ("ENGLISH", "GERMAN", "FRENCH", "SPANISH", "PORTUGUESE", "ITALIAN", "DUTCH", "RUSSIAN", "CHINESE",
              "JAPANESE", "KOREAN", "TURKISH", "POLISH", "VIETNAMESE", "INDONESIAN", "ARABIC", "PERSIAN", "HINDI",
              "UKRAINIAN", "CZECH", "SWEDISH")


def length_ok(text: str, *, low: int = 10, high: int = 512) -> bool:
    """Whether ``text`` has ``low`` to ``high`` whitespace tokens."""
    return low <= len(text.split()) <= high


@dataclass
class LanguageFilter:
    """``english(text)``: Lingua's verdict on the prose of a description (doctest and
    code lines left out, since code is no language)."""

    _detector: Any = field(default=None, repr=False)

    def english(self, text: str) -> bool:
        """Raises:
        ImportError: lingua-language-detector is not installed (the message says how)."""
        prose = _prose(text)
        if not prose:
            return False
        detector = self._build()
        import lingua

        return bool(detector.detect_language_of(prose) == lingua.Language.ENGLISH)

    def _build(self) -> Any:
        if self._detector is None:
            try:
                import lingua
            except ImportError as exc:
                raise ImportError("the language filter needs lingua-language-detector: "
                                  "pip install 'utrs[testgen]' (or pass --no-language-filter)") from exc
            languages = [getattr(lingua.Language, name) for name in _LANGUAGES]
            self._detector = lingua.LanguageDetectorBuilder.from_languages(*languages).build()
        return self._detector


def _prose(text: str) -> str:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith((">>>", "...")) or not stripped:
            continue
        lines.append(stripped)
    return " ".join(lines)[:2000]
