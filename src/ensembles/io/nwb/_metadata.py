"""File and subject metadata of an NWB export: the session and subject fields a caller may give, their checks
(NWB/DANDI vocabularies for sex, ISO 8601 ages, Latin or NCBI species), what DANDI requires, and the subject that
describes a model recording."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from ensembles.errors import InputTypeError, ParameterError

from ._common import _safe_id


def _parse_time(value: Any, *, strict: str | None = None) -> _dt.datetime:
    """A timezone-aware datetime from an ISO string or datetime; ``strict`` (the field name) raises on bad input,
    otherwise a bad or missing value gives "now" (the creation time of a model recording)."""
    now = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(value, _dt.datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as err:
            if strict:
                raise ParameterError(
                    f"The {strict!r} must be an ISO 8601 date/time such as '2024-05-01T10:00:00+00:00'. "
                    f"Got {value!r} instead."
                ) from err
            return now
    else:
        if strict:
            raise ParameterError(f"The {strict!r} must be an ISO 8601 date/time. Got {value!r} instead.")
        return now
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t if strict else min(t, now)


#: Subject fields accepted by :func:`export_nwb` (those of ``pynwb.file.Subject``).
SUBJECT_FIELDS = (
    "subject_id", "species", "sex", "age", "age__reference", "date_of_birth", "description", "strain",
    "genotype", "weight",
)  # fmt: skip
#: Session fields accepted by :func:`export_nwb` (keyword arguments of ``pynwb.NWBFile``).
SESSION_FIELDS = (
    "session_description", "session_id", "session_start_time", "identifier", "experimenter", "institution",
    "lab", "experiment_description", "keywords", "related_publications", "protocol", "stimulus_notes",
)  # fmt: skip
#: The subject fields DANDI requires (``nwbinspector --config dandi`` reports their absence as CRITICAL); age may be
#: given as ``date_of_birth`` instead.
DANDI_SUBJECT_FIELDS = ("subject_id", "species", "sex", "age")
_SEXES = ("M", "F", "U", "O")
_AGE = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?(/P.*)?$")
_SPECIES = re.compile(r"^([A-Z][a-z]+ [a-z]+( [a-z]+)?|https?://identifiers\.org/taxonomy:\d+|NCBITaxon:\d+)$")


def _check_fields(name: str, given: Any, allowed: tuple[str, ...]) -> dict:
    if given is None:
        return {}
    if not isinstance(given, dict):
        try:
            given = dict(given)
        except (TypeError, ValueError) as err:
            raise InputTypeError(
                f"The {name!r} parameter must be a mapping of field -> value (fields: {', '.join(allowed)}). "
                f"Got {type(given).__name__} instead."
            ) from err
    unknown = sorted(k for k in given if k not in allowed)
    if unknown:
        raise ParameterError(
            f"The {name!r} parameter has unknown field(s) {unknown}; accepted: {', '.join(allowed)}."
        )
    return {k: v for k, v in given.items() if v is not None and v != ""}


def _subject_metadata(subject: dict, attrs: dict, start: _dt.datetime, neural: bool, dandi: bool) -> dict:
    """Subject fields: the caller's, else what an imported recording carries; for a model, its description."""
    out = dict(subject)
    if "species" not in out and attrs.get("species"):
        out["species"] = str(attrs["species"])
    model, seed = str(attrs.get("model", "")), attrs.get("seed", -1)
    if not neural:
        out.setdefault("subject_id", _safe_id(f"{model}-seed{seed}"))
        out.setdefault(
            "description",
            f"Artificial neural network (model '{model}', seed {seed}); not an animal. Sex 'U' = not applicable"
            + ("; date_of_birth = the time the recording was made." if "age" not in out else "."),
        )
        out.setdefault("sex", "U")
        if "age" not in out:
            out.setdefault("date_of_birth", start)
    elif attrs.get("subject_id"):
        out.setdefault("subject_id", str(attrs["subject_id"]))
    if "sex" in out and out["sex"] not in _SEXES:
        raise ParameterError(
            f"The subject 'sex' must be one of {', '.join(_SEXES)} (M male, F female, U unknown, O other; the "
            f"NWB/DANDI vocabulary). Got {out['sex']!r} instead."
        )
    if "age" in out and not _AGE.match(str(out["age"])):
        raise ParameterError(
            f"The subject 'age' must be an ISO 8601 duration such as 'P90D' (90 days) or 'P12W'. "
            f"Got {out['age']!r} instead."
        )
    if "species" in out and not _SPECIES.match(str(out["species"])):
        raise ParameterError(
            "The subject 'species' must be a Latin binomial such as 'Mus musculus' or an NCBI taxonomy id such as "
            f"'http://identifiers.org/taxonomy:10090' (DANDI's form). Got {out['species']!r} instead."
        )
    if isinstance(out.get("date_of_birth"), str):
        out["date_of_birth"] = _parse_time(out["date_of_birth"], strict="subject date_of_birth")
    if dandi:
        missing = [k for k in ("subject_id", "species", "sex") if k not in out]
        if "age" not in out and "date_of_birth" not in out:
            missing.append("age (or date_of_birth)")
        if missing:
            raise ParameterError(
                f"DANDI requires the subject fields {missing}, which are missing. Pass them in 'subject', e.g. "
                "subject={'subject_id': 'mouse1', 'species': 'Mus musculus', 'sex': 'F', 'age': 'P90D'} "
                "(command line: --subject-id, --species, --sex, --age)."
            )
    return out
