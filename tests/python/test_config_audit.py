"""The Python config reader against the audit of transformers' sources (tests/data/config_keys.json,
from tests/golden/audit_config_keys.py), as tests/test_config_audit.c checks the C reader: every key
some family reads for its RoPE, fed to librope.model for each model_type of that family with a few
probe values, either changes the result or is refused with an error naming it; never accepted and
ignored. And with no RoPE key, the family's own defaults (θ, partial rotary factor, rope_type)."""
import json
import os
import re

import pytest

import librope

HERE = os.path.dirname(os.path.abspath(__file__))
AUDIT = json.load(open(os.path.join(HERE, "..", "data", "config_keys.json")))
BASE = {"hidden_size": 1024, "num_attention_heads": 8, "head_dim": 128, "num_hidden_layers": 8,
        "max_position_embeddings": 8192}
PROBES = [0.5, 0.25, 3, 48, 100000.0, True, False, "LLLG", "linear", "yarn", [1, 1, 1, 0, 1, 1, 1, 0],
          ["sliding_attention", "full_attention"] * 4, [24, 20, 20], [8, 12, 12], {"0": {"head_dim": 64}},
          {"rope_type": "linear", "factor": 2.0}, "x"]
LISTS = [1.0] + [1.5] * 63
DICTS = [
    {"rope_type": "default", "rope_theta": 10000.0},
    {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0},
    {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0},
    {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048, "rope_theta": 10000.0},
    {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
     "original_max_position_embeddings": 2048, "rope_theta": 500000.0},
    {"rope_type": "longrope", "original_max_position_embeddings": 2048, "rope_theta": 10000.0,
     "short_factor": LISTS, "long_factor": LISTS},
]


def read(cfg):
    """(fingerprint, None) or (None, error message)."""
    try:
        m = librope.model(cfg)
    except Exception as e:   # ValueError from the reader, or the library refusing the set
        return None, str(e)
    sets = [(n, sorted((k, repr(v)) for k, v in m.fields[n].items()), m.sets[n].inv_freq.tobytes(),
             m.sets[n].attention_factor, m.sets[n].rotary_dim, tuple(m.sets[n].mrope_section),
             m.sets[n].mrope_interleaved) for n in m.set_names]
    return repr((m.layers, m.layer_types, m.query_scaling, sets)), None


def names_key(msg, key):
    return re.search(r"(?<![a-z_])%s(?![a-z_])" % re.escape(key), msg) is not None


def probe(mt, key, in_dict):
    unnamed = False
    for base_dict in (DICTS if in_dict else [None]):
        base = dict(BASE, model_type=mt)
        if in_dict:
            base["rope_parameters"] = dict(base_dict)
        if key in ("head_dim", "rope_parameters") and not in_dict:
            base.pop("head_dim")
        want, base_err = read(base)
        for v in PROBES:
            cfg = json.loads(json.dumps(base))
            if in_dict:
                cfg["rope_parameters"][key] = v
            else:
                cfg[key] = v
            got, err = read(cfg)
            if err is not None:
                if names_key(err, key) or base_err is not None:
                    return "ok"
                unnamed = True
            elif base_err is not None or got != want:
                return "ok"
    return "refused, but no error names the key" if unnamed else "accepted and ignored"


# What librope.model reports is frequencies, layer map and query scaling; the pair style
# (DeepSeek `rope_interleave`) and where the rope slice sits in an MLA head (`qk_nope_head_dim`,
# the softmax head size) are the C reader's `style` / `attn_head_dim`, checked for these keys by
# tests/test_config_audit.c; the Python reader does not report them.
NOT_REPORTED_HERE = {"rope_interleave", "qk_nope_head_dim"}


def cases():
    for fam, f in sorted(AUDIT["families"].items()):
        mts = ["llama"] if fam == "_shared" else f["model_types"]
        for mt in mts:
            for key in f["top_level_keys"]:
                if key in NOT_REPORTED_HERE:
                    continue
                yield fam, mt, key, False
            for key in f["rope_dict_keys"]:
                yield fam, mt, key, True


def test_every_audited_key_is_understood_or_refused_by_name():
    bad, n = [], 0
    for fam, mt, key, in_dict in cases():
        n += 1
        why = probe(mt, key, in_dict)
        if why != "ok":
            bad.append("%s/%s: %s%s: %s" % (fam, mt, "rope_parameters." if in_dict else "", key, why))
    assert n > 1000 and not bad, "\n".join(bad)


def test_family_defaults_without_rope_keys():
    checked = 0
    for fam, f in sorted(AUDIT["families"].items()):
        for mt, d in f["defaults"].items():
            if not isinstance(d.get("rope_theta"), (int, float)):
                continue
            fp, err = read(dict(BASE, model_type=mt))
            if err is not None:     # refused outright: nothing misread
                continue
            m = librope.model(dict(BASE, model_type=mt))
            fields = m.fields[m.primary]
            assert fields.get("rope_theta", 10000.0) == d["rope_theta"], (mt, fields, d)
            if "rope_type" in d:
                assert fields["type"] == d["rope_type"], (mt, fields, d)
            want_p = d.get("partial_rotary_factor", 1.0)
            f_ = m.sets[m.primary]
            assert f_.rotary_dim == int(128 * want_p) or fields["type"] == "default", (mt, f_.rotary_dim, d)
            checked += 1
    assert checked > 100


def test_the_audit_is_of_a_known_transformers():
    assert AUDIT["transformers"] == "5.24.0"
    assert len(AUDIT["families"]) > 200
    with pytest.raises(ValueError, match="vision tower"):
        librope.model(dict(BASE, model_type="pixtral"))


GUARDED = set(librope._config.GUARDED) - {"text_config", "thinker_config", "model_type"}
CONFIGS = os.path.join(HERE, "..", "data", "configs")


def text_part(cfg):
    if isinstance(cfg.get("thinker_config"), dict) and "text_config" in cfg["thinker_config"]:
        return cfg["thinker_config"]["text_config"]
    return cfg["text_config"] if isinstance(cfg.get("text_config"), dict) else cfg


def misspellings(k):
    at = len(k) // 2
    sw = at
    while sw + 1 < len(k) and k[sw] == k[sw + 1]:
        sw += 1
    out = {k[:at] + k[at + 1:], k[:sw] + k[sw + 1] + k[sw] + k[sw + 2:], k[:at] + k[at] + k[at:]}
    return sorted(m for m in out if m != k and m not in GUARDED)


def renamed(d, old, new):
    return {(new if k == old else k): v for k, v in d.items()}


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(CONFIGS) if f.endswith(".json")))
def test_misspelt_and_added_keys_on_the_bundled_configs(name):
    cfg = json.load(open(os.path.join(CONFIGS, name)))
    cfg.pop("_source", None)
    base, err = read(cfg)
    assert err is None, err
    part = text_part(cfg)
    spelt = 0
    for in_dict in (False, True):
        holder = part
        if in_dict:
            holder = part.get("rope_parameters") or part.get("rope_scaling")
            if not isinstance(holder, dict):
                continue
        for k in list(holder):
            if not in_dict and k not in GUARDED:
                continue
            for bad in misspellings(k):
                c2 = json.loads(json.dumps(cfg))
                p2 = text_part(c2)
                if in_dict:
                    dk = "rope_parameters" if part.get("rope_parameters") else "rope_scaling"
                    p2[dk] = renamed(p2[dk], k, bad)
                else:
                    p2.clear()
                    p2.update(renamed(part, k, bad))
                _, e = read(c2)
                assert (e is not None and names_key(e, bad)) or bad == "layer_type", (name, k, bad, e)
                spelt += 1
    assert spelt >= 3
    union = sorted({k for f in AUDIT["families"].values() for k in f["top_level_keys"]} - set(part) - NOT_REPORTED_HERE)
    for key in union:
        ok = False
        for v in PROBES:
            c2 = json.loads(json.dumps(cfg))
            text_part(c2)[key] = v
            got, e = read(c2)
            if (e is not None and names_key(e, key)) or (e is None and got != base):
                ok = True
                break
        assert ok, (name, key, "added and ignored")
