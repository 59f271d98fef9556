"""Hugging Face config.json -> librope rope_config fields.

The same rules, in the same order, as the C reader tools/lib/config_json.c (which follows
transformers, /work/shared/reference/hf-rope-semantics.md §0 and pitfall 11):
  - the text model of multimodal configs sits in `text_config`;
  - the scaling dict is `rope_scaling` (v4) or `rope_parameters` (v5), Gemma 3's per-layer
    dicts give the `full_attention` one; `rope_type`, legacy alias `type`, default "default";
    Phi3 renames "yarn" (and "su") to longrope, "mrope" is default with sections;
  - base: the dict's rope_theta, then GPT-NeoX rotary_emb_base, then the top-level rope_theta;
  - partial rotary: the dict's, NeoX rotary_pct, the top-level one (NeoX default 0.25); the
    default RoPE of llama/mistral/qwen2/gemma/deepseek ignores it, as HF's does;
  - head_dim: DeepSeek qk_rope_head_dim, else head_dim, else hidden_size // num_attention_heads;
  - original_max_position_embeddings: top level (Phi-3) wins, else the dict's, else
    max_position_embeddings (yarn, llama3, longrope).
"""
import math

# Fields of rope_config that a keyword argument may set directly.
FIELDS = (
    "type", "rope_theta", "head_dim", "hidden_size", "num_attention_heads", "partial_rotary_factor",
    "factor", "max_position_embeddings", "original_max_position_embeddings", "beta_fast", "beta_slow",
    "attention_factor", "mscale", "mscale_all_dim", "truncate", "low_freq_factor", "high_freq_factor",
    "short_factor", "long_factor", "mrope_section",
)

_FULL_DEFAULT = ("llama", "mistral", "qwen2", "gemma", "gemma2", "gemma3_text", "deepseek_v2", "deepseek_v3")
_ALIASES = {"su": "longrope", "mrope": "default"}


def _fail(msg):
    raise ValueError("librope config: " + msg)


def _num(obj, key, where=""):
    """obj[key] as a finite float, None when absent or null."""
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        _fail(f"{where}{key} must be a number, got {v!r}")
    if not math.isfinite(v):
        _fail(f"{where}{key} must be finite, got {v!r}")
    return float(v)


def _int(obj, key, where=""):
    v = _num(obj, key, where)
    if v is None:
        return None
    if v != math.floor(v) or abs(v) > 2 ** 53:
        _fail(f"{where}{key} must be an integer, got {obj.get(key)!r}")
    return int(v)


def from_hf(config):
    """Map a HF config dict to a dict of rope_config fields."""
    if not isinstance(config, dict):
        raise TypeError("librope config: expected a dict (the parsed config.json)")
    mt = config.get("model_type")
    src, w = config, ""
    tc = config.get("text_config")
    if isinstance(tc, dict) and not any(k in config for k in ("num_attention_heads", "head_dim", "hidden_size")):
        src, w = tc, "text_config."
        mt = mt or tc.get("model_type")
    if mt is not None and not isinstance(mt, str):
        _fail("model_type must be a string")

    rs, rp = src.get("rope_scaling"), src.get("rope_parameters")
    if rs is not None and not isinstance(rs, dict):
        _fail(f"{w}rope_scaling must be an object or null")
    if rp is not None and not isinstance(rp, dict):
        _fail(f"{w}rope_parameters must be an object or null")
    d, dn = {}, "rope_scaling."
    if rs:
        d = rs
    elif rp:
        d, dn = rp, "rope_parameters."
    if "full_attention" in d:
        if not isinstance(d["full_attention"], dict):
            _fail(f"{dn}full_attention must be an object")
        d, dn = d["full_attention"], "rope_parameters.full_attention."

    tn = d.get("rope_type")
    if tn is None:
        tn = d.get("type")
    if tn is None:
        tn = "default"
    if not isinstance(tn, str):
        _fail(f"{dn}rope_type must be a string")
    rtype = _ALIASES.get(tn, tn)
    if mt == "phi3" and rtype == "yarn":
        rtype = "longrope"
    out = {"type": rtype}

    theta = _num(d, "rope_theta", dn)
    if theta is None:
        theta = _num(src, "rotary_emb_base", w)
    if theta is None:
        theta = _num(src, "rope_theta", w)
    if theta is not None:
        if not theta > 0:
            _fail(f"rope_theta must be > 0 (got {theta})")
        out["rope_theta"] = theta

    prf = _num(d, "partial_rotary_factor", dn)
    if prf is None:
        prf = _num(src, "rotary_pct", w)
    if prf is None:
        prf = _num(src, "partial_rotary_factor", w)
    if prf is not None and not 0 < prf <= 1:
        _fail(f"partial_rotary_factor must be in (0, 1] (got {prf})")
    if prf is None and mt == "gpt_neox":
        prf = 0.25
    if rtype == "default" and mt in _FULL_DEFAULT:
        prf = None
    if prf is not None:
        out["partial_rotary_factor"] = prf

    heads, hidden = _int(src, "num_attention_heads", w), _int(src, "hidden_size", w)
    hd, qk_rope = _int(src, "head_dim", w), _int(src, "qk_rope_head_dim", w)
    maxp = _int(src, "max_position_embeddings", w)
    if qk_rope and qk_rope > 0:
        head_dim = qk_rope
    elif hd and hd > 0:
        head_dim = hd
    elif hidden and heads and hidden > 0 and heads > 0:
        head_dim = hidden // heads
    else:
        _fail(f"{w}head_dim is missing: the config needs head_dim, or hidden_size and num_attention_heads")
    out["head_dim"] = head_dim
    if maxp:
        out["max_position_embeddings"] = maxp

    factor = _num(d, "factor", dn)
    if factor is None and rtype in ("linear", "dynamic", "llama3"):
        _fail(f"{dn}factor is required for rope_type {rtype}")
    if factor is not None:
        if not factor > 0:
            _fail(f"{dn}factor must be > 0 (got {factor})")
        out["factor"] = factor
    if rtype == "dynamic" and not (maxp and maxp > 0):
        _fail(f"{w}max_position_embeddings is required for dynamic NTK")

    if rtype in ("yarn", "llama3", "longrope"):
        orig = _int(src, "original_max_position_embeddings", w) or _int(d, "original_max_position_embeddings", dn)
        orig = orig or maxp
        if not orig or orig <= 0:
            _fail(f"{dn}original_max_position_embeddings is required for rope_type {rtype}")
        out["original_max_position_embeddings"] = orig

    if rtype == "yarn":
        for k in ("beta_fast", "beta_slow", "mscale", "mscale_all_dim"):
            v = _num(d, k, dn)
            if v is not None:
                out[k] = v
        if d.get("truncate") is not None:
            if not isinstance(d["truncate"], bool):
                _fail(f"{dn}truncate must be true or false")
            out["truncate"] = d["truncate"]
    if rtype in ("yarn", "longrope"):
        af = _num(d, "attention_factor", dn)
        if af is not None:
            if not af > 0:
                _fail(f"{dn}attention_factor must be > 0 (got {af})")
            out["attention_factor"] = af
    if rtype == "llama3":
        for k in ("low_freq_factor", "high_freq_factor"):
            v = _num(d, k, dn)
            if v is None:
                _fail(f"{dn}{k} is required for rope_type llama3")
            out[k] = v

    rotary_dim = int(head_dim * (prf if prf is not None else 1.0))
    if rtype == "longrope":
        for k in ("short_factor", "long_factor"):
            v = d.get(k)
            if not isinstance(v, (list, tuple)):
                _fail(f"{dn}short_factor and long_factor are required lists for rope_type longrope ({k})")
            vals = []
            for x in v:
                if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                    _fail(f"{dn}{k} must hold finite numbers")
                vals.append(float(x))
            if len(vals) != rotary_dim // 2:
                _fail(f"{dn}{k} has {len(vals)} entries; rotary_dim {rotary_dim} needs {rotary_dim // 2}")
            out[k] = vals

    ms = d.get("mrope_section")
    if ms is not None:
        if not isinstance(ms, (list, tuple)) or len(ms) != 3:
            _fail(f"{dn}mrope_section must be a list of 3 integers (t, h, w)")
        secs = []
        for x in ms:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or x != int(x) or x < 0:
                _fail(f"{dn}mrope_section entries must be integers >= 0")
            secs.append(int(x))
        if sum(secs) != rotary_dim // 2:
            _fail(f"{dn}mrope_section sums to {sum(secs)}, but rotary_dim/2 is {rotary_dim // 2}")
        out["mrope_section"] = secs
    return out
