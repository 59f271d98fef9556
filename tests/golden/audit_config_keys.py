"""Which config.json keys reach RoPE, in every transformers model family (see docs/families.md,
"Audit of the keys that reach RoPE").

Run with a venv that has transformers (CI does not need it):
    python tests/golden/audit_config_keys.py
rewrites tests/data/config_keys.json and, from its defaults, the readers' family tables
tools/lib/family_defaults.inc and python/librope/_family_defaults.py, and the names near a key
the readers read that are not misspellings (tools/lib/near_names.inc, NEAR_OK in the latter).

For each family (a folder of transformers/models), this reads its configuration_*.py and
modeling_*.py (the generated files, not modular_*.py) and lists the config keys that can change
its RoPE, by this heuristic:
  - top-level keys: a name matching ROPE_NAME (rope, rotary, theta, mrope, nope) that the family
    reads from a config: `config.NAME` (also `self.config.NAME`, `text_config.NAME`, and
    `self.NAME` inside configuration_*.py; never a call `NAME(`),
    `getattr(..., "NAME"`, `kwargs.pop/get/setdefault("NAME"`, or a field `NAME: type = ...`
    of its configuration class; plus the LAYOUT keys (which layers rotate, and how wide a head
    is) that the family reads in the same ways;
  - RoPE dict keys: string literals read from a RoPE parameter dict (`rope_parameters["NAME"]`,
    `rope_parameters.get("NAME"`, the same on `rope_scaling`, `rope_params`, `rope_kwargs`);
  - `_shared`: the RoPE-dict keys modeling_rope_utils.py reads (every rope_type's parameters);
  - per model_type, the configuration class's own defaults when config.json has no RoPE keys:
    the class is instantiated without arguments and its `rope_parameters` (or the one of its
    `text_config`) recorded, and once more with `rope_theta=12345.0` to tell a fallback base
    (`default_theta`, which a top-level rope_theta overrides) from a fixed default dict.
Names that are a container (`rope_parameters`, `rope_scaling`) are listed too: they are keys.
The heuristic over-reports (vision/audio towers' keys, keys the family only passes through);
each listed key is then fed to librope's readers by tests/test_config_audit.c and
tests/python/test_config_audit.py, which accept only "changes the result", "refused by name"
or "validated", never "accepted and ignored".
"""
import importlib
import json
import os
import re
import sys

import torch
import transformers
from transformers import CONFIG_MAPPING

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "config_keys.json")
C_OUT = os.path.join(HERE, "..", "..", "tools", "lib", "family_defaults.inc")
C_NEAR_OUT = os.path.join(HERE, "..", "..", "tools", "lib", "near_names.inc")
C_SCOPED_OUT = os.path.join(HERE, "..", "..", "tools", "lib", "scoped_keys.inc")
C_IGNORED_OUT = os.path.join(HERE, "..", "..", "tools", "lib", "ignored_keys.inc")
# keys the readers accept only for the model types of the families that read them
SCOPED = ("qk_rope_head_dim", "qk_nope_head_dim", "rotary_emb_base", "rotary_pct")
PY_OUT = os.path.join(HERE, "..", "..", "python", "librope", "_family_defaults.py")
# per-layer-type defaults the readers implement themselves (Gemma 3's rope_local_base_freq, Gemma 4)
OWN_PER_LAYER = {"gemma3", "gemma3_text", "gemma4", "gemma4_text"}
ROPE_NAME = re.compile(r"rope|rotary|theta|mrope|nope", re.I)
LAYOUT = ("layer_types", "sliding_window_pattern", "full_attention_interval", "no_rope_layers",
          "no_rope_layer_interval", "attention_chunk_size", "global_head_dim", "per_layer_config", "head_dim",
          "qk_rope_head_dim", "qk_nope_head_dim", "rotary_dim", "kv_channels")
# class attributes and methods of the config machinery, not keys of config.json
NOT_KEYS = {"default_theta", "ignore_keys_at_rope_validation", "default_partial_rotary_factor"}
READS = [
    re.compile(r"\b(?:self\.config|config|text_config)\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()"),
    re.compile(r"getattr\(\s*[A-Za-z_.]*config[A-Za-z_.]*\s*,\s*[\"']([A-Za-z_0-9]+)[\"']"),
    re.compile(r"hasattr\(\s*[A-Za-z_.]*config[A-Za-z_.]*\s*,\s*[\"']([A-Za-z_0-9]+)[\"']"),
    re.compile(r"kwargs\.(?:pop|get|setdefault)\(\s*[\"']([A-Za-z_0-9]+)[\"']"),
    re.compile(r"^\s{4}([A-Za-z_][A-Za-z0-9_]*)\s*:\s*[^=\n]+=", re.M),    # a dataclass field
]
DICT_READ = re.compile(r"\b(?:rope_parameters|rope_scaling|rope_params|rope_kwargs|rope_config)"
                       r"(?:\[[^\]]*\])?(?:\[\s*|\.get\(\s*|\.setdefault\(\s*|\.pop\(\s*)[\"']([A-Za-z_0-9]+)[\"']")
LAYER_TYPE_NAMES = {"full_attention", "sliding_attention", "chunked_attention", "linear_attention",
                    "global", "local", "sliding", "full"}


def sources(folder, prefix):
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))
            if f.startswith(prefix) and f.endswith(".py")]


def scan(folder):
    top, dct = set(), set()
    for path in sources(folder, "configuration_") + sources(folder, "modeling_"):
        text = open(path, encoding="utf-8").read()
        reads = READS
        if os.path.basename(path).startswith("configuration_"):   # the config class's own attributes
            reads = READS + [re.compile(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()")]
        for rx in reads:
            for name in rx.findall(text):
                if name in NOT_KEYS or name.startswith("_"):
                    continue
                if ROPE_NAME.search(name) or name in LAYOUT:
                    top.add(name)
        for name in DICT_READ.findall(text):
            if name not in LAYER_TYPE_NAMES:
                dct.add(name)
    return sorted(top), sorted(dct)


def _rope_params(cfg):
    rp = getattr(cfg, "rope_parameters", None)
    if rp is None and getattr(cfg, "text_config", None) is not None:
        rp = getattr(cfg.text_config, "rope_parameters", None)
    return rp if isinstance(rp, dict) else None


def _scalars(d):
    return {k: d[k] for k in sorted(d) if isinstance(d[k], (int, float, str, bool)) or
            (isinstance(d[k], list) and all(isinstance(x, (int, float)) for x in d[k]))}


def rope_defaults(mt):
    """The RoPE parameters a config of this model_type gets when config.json has none, and whether
    a top-level rope_theta reaches them (False: the class fixes a whole dict, its θ included)."""
    cls = CONFIG_MAPPING[mt]
    try:
        rp = _rope_params(cls())
    except Exception as e:   # some classes need arguments: recorded, not guessed
        return {"error": type(e).__name__}
    if not rp:
        return {}
    if all(isinstance(v, dict) or v is None for v in rp.values()):   # keyed by layer type
        return {"per_layer_type": {k: _scalars(v) for k, v in sorted(rp.items()) if v is not None}}
    out = _scalars(rp)
    try:
        probe = _rope_params(cls(rope_theta=12345.0)) or {}
        out["theta_follows_top_level"] = probe.get("rope_theta") == 12345.0
    except Exception:
        pass
    return out


# Top-level keys the readers read (config_json.c, _config.py): a key one or two edits away from
# one of these that is not itself a name transformers uses is refused as a misspelling. The
# list is _config.py's, read from its source (importing it would load the C library).
def _guarded():
    import ast
    src = os.path.join(HERE, "..", "..", "python", "librope", "_config.py")
    for node in ast.parse(open(src).read()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "GUARDED" for t in node.targets):
            return ast.literal_eval(node.value)
    sys.exit("audit: GUARDED not found in python/librope/_config.py")


GUARDED = _guarded()
FIELD = re.compile(r"^\s{4}([A-Za-z_][A-Za-z0-9_]*)\s*:\s*[^=\n]+(?:=|$)", re.M)
KWARG = re.compile(r"kwargs\.(?:pop|get|setdefault)\(\s*[\"']([A-Za-z_0-9]+)[\"']")
ATTR_MAP = re.compile(r"[\"']([A-Za-z_0-9]+)[\"']\s*:\s*[\"'][A-Za-z_0-9]+[\"']")


def edits(a, b):
    """Optimal string alignment distance (a swap of neighbours counts 1)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def near(key, guarded):
    return edits(key, guarded) <= (1 if len(guarded) < 8 else 2)


def legit_near_names(root):
    """Names transformers' configuration classes use (fields, kwargs, attribute_map keys) that are
    near a guarded key without being one: the readers must not take them for misspellings."""
    base = open(os.path.join(os.path.dirname(transformers.__file__), "configuration_utils.py"), encoding="utf-8").read()
    names = set(FIELD.findall(base)) | set(KWARG.findall(base)) | set(ATTR_MAP.findall(base))
    for fam in os.listdir(root):
        folder = os.path.join(root, fam)
        if os.path.isdir(folder):
            for path in sources(folder, "configuration_"):
                text = open(path, encoding="utf-8").read()
                names |= set(FIELD.findall(text)) | set(KWARG.findall(text)) | set(ATTR_MAP.findall(text))
    return sorted(n for n in names if n not in GUARDED and any(near(n, g) for g in GUARDED))


def family_tables(fams):
    """model_type -> what the readers assume when config.json gives no RoPE parameters:
    (default dict or None, fallback θ, fallback partial factor or -1), plus the model types
    refused outright: vision towers (default rope_type axial) and per-layer-type defaults
    the readers do not implement."""
    rows, vision, per_layer = {}, set(), set()
    for f in fams.values():
        for mt, d in f["defaults"].items():
            if not d or "error" in d:
                continue
            if "per_layer_type" in d:
                if mt not in OWN_PER_LAYER:
                    per_layer.add(mt)
                continue
            if d.get("rope_type") == "axial":
                vision.add(mt)
                continue
            rest = {k: v for k, v in d.items() if k not in ("theta_follows_top_level", "type", "rope_theta",
                                                          "partial_rotary_factor")}
            theta, prf = float(d.get("rope_theta", 10000.0)), float(d.get("partial_rotary_factor", -1.0))
            if d.get("rope_type", "default") != "default":
                dict_ = dict(rest)
                if not d.get("theta_follows_top_level"):   # the class fixes θ inside its dict
                    dict_["rope_theta"] = theta
                rows[mt] = (json.dumps(dict_, sort_keys=True), theta, prf)
            elif theta != 10000.0 or prf not in (-1.0, 1.0):
                rows[mt] = (None, theta, prf)
    return rows, sorted(vision), sorted(per_layer)


def ignored_top_level(fams, rows):
    """(key, model_type): a text config class that drops a top-level rope_theta / partial_rotary_factor
    (GPT-NeoX reads rotary_emb_base / rotary_pct instead, some classes fix their own); model types
    with a fixed default dict are left out: the readers compare the top level with that dict."""
    out = []
    for f in fams.values():
        for mt, d in f["defaults"].items():
            if not d or "error" in d or "per_layer_type" in d or d.get("rope_type") == "axial":
                continue
            if mt in rows and rows[mt][0] is not None:
                continue
            for key, val in (("rope_theta", 12345.0), ("partial_rotary_factor", 0.375)):
                try:
                    cfg = CONFIG_MAPPING[mt](**{key: val})
                except Exception:
                    continue
                tc = getattr(cfg, "text_config", None)
                if tc is not None and tc is not cfg:   # a wrapper: the key belongs in text_config
                    continue
                if (getattr(cfg, "rope_parameters", None) or {}).get(key) != val:
                    out.append((key, mt))
    return sorted(out)


def scoped_keys(fams):
    return {k: sorted({m for f in fams.values() if k in f["top_level_keys"] for m in f["model_types"]})
            for k in SCOPED}


def write_tables(rows, vision, per_layer, near_ok, scoped, ignored):
    head = ("generated by tests/golden/audit_config_keys.py from transformers %s -- do not edit"
            % transformers.__version__)
    with open(C_OUT, "w") as fh:
        fh.write("/* %s.\n * model_type, default RoPE dict (JSON) or NULL, fallback rope_theta, fallback\n"
                 " * partial_rotary_factor (-1: none); kind. See config_json.c family_default(). */\n" % head)
        for mt in sorted(rows):
            dj, th, pr = rows[mt]
            fh.write('{"%s", %s, %r, %r, FAMILY_DEFAULTS},\n' % (mt, "NULL" if dj is None else json.dumps(dj), th, pr))
        for mt in vision:
            fh.write('{"%s", NULL, 0.0, -1.0, FAMILY_VISION},\n' % mt)
        for mt in per_layer:
            fh.write('{"%s", NULL, 0.0, -1.0, FAMILY_PER_LAYER_TYPE},\n' % mt)
    with open(C_SCOPED_OUT, "w") as fh:
        fh.write("/* %s.\n * key, a model type whose family reads it (config_json.c check_layout_keys). */\n" % head)
        for k in SCOPED:
            for mt in scoped[k]:
                fh.write('{"%s", "%s"},\n' % (k, mt))
    with open(C_IGNORED_OUT, "w") as fh:
        fh.write("/* %s.\n * key, model type whose config class drops that top-level key (config_json.c\n"
                 " * check_layout_keys: refused unless equal to what the family uses). */\n" % head)
        for key, mt in ignored:
            fh.write('{"%s", "%s"},\n' % (key, mt))
    with open(C_NEAR_OUT, "w") as fh:
        fh.write("/* %s.\n * Names transformers' configuration classes use that are within the misspelling\n"
                 " * distance of a key the reader reads (config_json.c check_misspelt_keys): not misspellings. */\n"
                 % head)
        for n in near_ok:
            fh.write('"%s",\n' % n)
    with open(PY_OUT, "w") as fh:
        fh.write('"""%s.\nSee _config.py and tools/lib/config_json.c family_default()."""\n\n' % head)
        fh.write("# model_type -> (default RoPE dict or None, fallback rope_theta, fallback partial factor or None)\n")
        fh.write("DEFAULTS = {\n")
        for mt in sorted(rows):
            dj, th, pr = rows[mt]
            fh.write("    %r: (%r, %r, %r),\n" % (mt, None if dj is None else json.loads(dj), th,
                                                  None if pr == -1.0 else pr))
        fh.write("}\n# vision towers (default rope_type axial): the config reader refuses them\n")
        fh.write("VISION = frozenset(%r)\n" % (vision,))
        fh.write("# RoPE defaults keyed by layer type that the readers do not implement: refused without\n"
                 "# rope_parameters keyed by layer type\n")
        fh.write("PER_LAYER_TYPE = frozenset(%r)\n" % (per_layer,))
        fh.write("# names transformers' configs use near a key the readers read: not misspellings\n")
        fh.write("NEAR_OK = frozenset(%r)\n" % (near_ok,))
        fh.write("# key -> the model types whose families read it (refused elsewhere)\n")
        fh.write("# (key, model_type): the config class drops that top-level key\n")
        fh.write("IGNORED = frozenset(%r)\n" % (ignored,))
        fh.write("SCOPED = {\n")
        for k in SCOPED:
            fh.write("    %r: frozenset(%r),\n" % (k, scoped[k]))
        fh.write("}\n")


def main():
    root = os.path.dirname(transformers.models.__file__)
    by_module = {}
    for mt in CONFIG_MAPPING.keys():
        try:
            mod = CONFIG_MAPPING[mt].__module__
        except Exception:
            continue
        by_module.setdefault(mod.split(".")[2], []).append(mt)
    fams = {}
    for fam in sorted(os.listdir(root)):
        folder = os.path.join(root, fam)
        if not os.path.isdir(folder) or not sources(folder, "configuration_"):
            continue
        top, dct = scan(folder)
        if not top and not dct:
            continue
        mts = sorted(by_module.get(fam, []))
        fams[fam] = {"model_types": mts, "top_level_keys": top, "rope_dict_keys": dct,
                     "defaults": {mt: rope_defaults(mt) for mt in mts}}
    # the RoPE-dict keys every family shares: what modeling_rope_utils.py reads for each rope_type
    shared = open(os.path.join(os.path.dirname(transformers.__file__), "modeling_rope_utils.py"), encoding="utf-8").read()
    fams["_shared"] = {"model_types": [], "top_level_keys": [],
                       "rope_dict_keys": sorted(set(DICT_READ.findall(shared)) - LAYER_TYPE_NAMES), "defaults": {}}
    data = {"_generated_by": "tests/golden/audit_config_keys.py -- do not edit",
            "transformers": transformers.__version__, "torch": torch.__version__,
            "heuristic": "see the module docstring of tests/golden/audit_config_keys.py",
            "families": fams}
    with open(OUT, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.write("\n")
    rows, vision, per_layer = family_tables(fams)
    write_tables(rows, vision, per_layer, legit_near_names(root), scoped_keys(fams), ignored_top_level(fams, rows))
    n_top = sum(len(f["top_level_keys"]) for f in fams.values())
    n_dict = sum(len(f["rope_dict_keys"]) for f in fams.values())
    print("%d families with RoPE keys: %d top-level and %d RoPE-dict (family, key) pairs -> %s"
          % (len(fams), n_top, n_dict, os.path.relpath(OUT)), file=sys.stderr)


if __name__ == "__main__":
    main()
