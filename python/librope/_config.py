"""Hugging Face config.json -> librope rope_config fields.

The same rules, in the same order, as the C reader tools/lib/config_json.c (which follows
transformers, docs/hf-rope.md "From config.json to parameters"):
  - the text model of multimodal configs sits in `text_config`;
  - the scaling dict is `rope_scaling` (v4) or `rope_parameters` (v5), Gemma 3's per-layer
    dicts give the `full_attention` one; `rope_type`, legacy alias `type`, default "default";
    Phi3 renames "yarn" (and "su") to longrope, "mrope" is default with sections;
  - base: the dict's rope_theta, then GPT-NeoX rotary_emb_base, then the top-level rope_theta;
  - partial rotary: the dict's, NeoX rotary_pct, the top-level one (NeoX default 0.25); the
    default RoPE of llama/mistral/qwen2/gemma/deepseek ignores it, as HF's does;
  - head_dim: DeepSeek qk_rope_head_dim, else head_dim, else hidden_size // num_attention_heads;
  - original_max_position_embeddings: top level (Phi-3) wins, else the dict's, else
    max_position_embeddings (yarn, llama3, longrope);
  - layers (model_from_hf): `layer_types` or the family's default pattern, one frequency set per
    layer type (rope_parameters keyed by type, a null entry = no RoPE; Gemma 3
    rope_local_base_freq; Gemma 4 global_head_dim), NoPE layers from no_rope_layers (1 = RoPE) /
    no_rope_layer_interval, Cohere2 / EXAONE 4 RoPE on sliding layers only; Llama 4 and
    Ministral 3 query scaling. See tools/lib/config_json.h.
"""
import math

from . import _family_defaults

# Fields of rope_config that a keyword argument may set directly.
FIELDS = (
    "type", "rope_theta", "head_dim", "hidden_size", "num_attention_heads", "partial_rotary_factor",
    "factor", "max_position_embeddings", "original_max_position_embeddings", "beta_fast", "beta_slow",
    "attention_factor", "mscale", "mscale_all_dim", "truncate", "low_freq_factor", "high_freq_factor",
    "short_factor", "long_factor", "mrope_section", "mrope_interleaved", "freq_divisor",
)

_FULL_DEFAULT = ("llama", "mistral", "qwen2", "gemma", "gemma2", "gemma3_text", "gemma3", "gemma4_text", "gemma4",
                 "deepseek_v2", "deepseek_v3")
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



_NOPE_FAMILIES = ("smollm3", "llama4_text", "llama4", "mistral_large4", "mistral_large4_text")
_MISTRAL_LARGE4 = ("mistral_large4", "mistral_large4_text")
_HYBRID_LINEAR = ("qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text")
_GEMMA3 = ("gemma3_text", "gemma3")
_GEMMA4 = ("gemma4_text", "gemma4")
_KNOWN_TYPE_NAMES = ("full_attention", "sliding_attention", "chunked_attention")
_MROPE_INTERLEAVED = ("qwen3_vl", "qwen3_vl_text", "qwen3_vl_moe", "qwen3_vl_moe_text", "qwen3_omni_moe",
                      "qwen3_omni_moe_thinker", "qwen3_omni_moe_text", "qwen3_5", "qwen3_5_text", "qwen3_5_moe",
                      "qwen3_5_moe_text")
_MROPE_DEFAULT = dict([(m, (24, 20, 20)) for m in _MROPE_INTERLEAVED if not m.startswith("qwen3_5")] +
                      [(m, (11, 11, 10)) for m in _MROPE_INTERLEAVED if m.startswith("qwen3_5")] +
                      [(m, (8, 12, 12)) for m in ("glm4v", "glm4v_text", "glm4v_moe", "glm4v_moe_text")])
MAX_LAYERS = 1024
MAX_SETS = 8


def _bool(obj, key, where=""):
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    _fail(f"{where}{key} must be true or false")


_DICT_KEYS = ("rope_type", "type", "rope_theta", "factor", "original_max_position_embeddings", "partial_rotary_factor",
              "beta_fast", "beta_slow", "mscale", "mscale_all_dim", "attention_factor", "truncate", "low_freq_factor",
              "high_freq_factor", "short_factor", "long_factor", "mrope_section", "mrope_interleaved",
              "llama_4_scaling_beta", "max_position_embeddings")
_TOP_KEYS = ("rope_theta", "rope_scaling", "rope_parameters", "rotary_emb_base", "rotary_pct", "partial_rotary_factor",
             "qk_rope_head_dim", "no_rope_layers", "no_rope_layer_interval", "qk_nope_head_dim", "use_rope_scaling")
_NO_ROPE = ("gpt2", "gpt_bigcode", "bloom", "mpt", "opt", "bert", "roberta", "t5", "gpt_neo", "jais")
_HUNYUAN = ("hunyuan_v1_dense", "hunyuan_v1_moe", "hunyuan_vl", "hunyuan_vl_text")
_HUNYUAN_VL = ("hunyuan_vl", "hunyuan_vl_text")  # XD-RoPE: xdrope_section, rope_type "xdrope", attention_head_dim
_PARTIAL_DEFAULT = dict([(m, 0.25) for m in ("gpt_neox", "qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe",
                                             "qwen3_5_moe_text", "stablelm")] +
                        [(m, 0.5) for m in ("glm", "glm4", "glm4_moe", "glm4v_moe", "glm4v_moe_text", "phi",
                                            "persimmon", "nemotron", "recurrent_gemma", "chatglm")])


def _check_dict_keys(d, dn, mt):
    """Every key of a RoPE dict is understood, or refused by name (the C reader's check_rope_dict_keys)."""
    for k in (d or {}):
        ok = k in _DICT_KEYS
        if k == "alpha":
            ok = mt in _HUNYUAN
        if k == "interleaved":
            ok = mt in ("qwen3_omni_moe", "qwen3_omni_moe_thinker")
        if k == "xdrope_section":
            ok = mt in _HUNYUAN_VL
        if not ok:
            _fail(f"{dn}{k} is not a RoPE parameter librope understands (model_type '{mt or ''}'); refusing rather "
                  "than ignoring it")


_LAYOUT_KEYS = {  # key -> the families librope reads it for (the C reader's check_layout_keys)
    "sliding_window_pattern": ("gemma3_text", "gemma3", "cohere2", "exaone4"),
    "global_head_dim": ("gemma4_text", "gemma4"),
    "attention_chunk_size": ("llama4_text", "llama4"),
    "full_attention_interval": ("qwen3_next", "qwen3_5", "qwen3_5_text", "qwen3_5_moe", "qwen3_5_moe_text"),
    "kv_channels": ("chatglm",),
}


# Misspellings of the top-level keys the readers read (the C reader's check_misspelt_keys): a key
# within one edit (two for names of 8+ characters; a neighbour swap is one) of one of these, and
# not a name transformers' configs use (_family_defaults.NEAR_OK, from the audit), is refused.
GUARDED = ("rope_theta", "rope_scaling", "rope_parameters", "partial_rotary_factor", "rotary_dim", "rotary_pct",
           "rotary_emb_base", "layer_types", "sliding_window_pattern", "full_attention_interval", "no_rope_layers",
           "no_rope_layer_interval", "attention_chunk_size", "global_head_dim", "per_layer_config", "head_dim",
           "qk_rope_head_dim", "qk_nope_head_dim", "kv_channels", "max_position_embeddings",
           "original_max_position_embeddings", "num_hidden_layers", "num_attention_heads", "hidden_size",
           "rope_local_base_freq", "rope_interleave", "sliding_window", "attn_temperature_tuning", "floor_scale",
           "attn_scale", "use_sliding_window", "text_config", "thinker_config", "model_type")


def _edits(a, b, cap):
    """Optimal string alignment distance, or cap + 1 once it must exceed cap."""
    if len(a) > 64 or len(b) > 64 or abs(len(a) - len(b)) > cap:
        return cap + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > cap:
            return cap + 1
        prev2, prev = prev, cur
    return prev[len(b)]


def _check_misspelt_keys(obj, w):
    for k in obj:
        if not isinstance(k, str) or k in GUARDED or k in _family_defaults.NEAR_OK:
            continue
        for g in GUARDED:
            cap = 1 if len(g) < 8 else 2
            if _edits(k, g, cap) <= cap:
                _fail(f"{w}{k[:64]} is not a config key librope knows: a misspelling of {g}? refusing rather than "
                      "ignoring it")


_SCOPED_EXTRA = {"qk_rope_head_dim": ("kimi_k2",), "qk_nope_head_dim": ("kimi_k2",)}  # DeepSeek-V3 by another name


def _check_layout_keys(src, w, mt):
    for k, mts in _family_defaults.SCOPED.items():
        if mt and src.get(k) is not None and mt not in mts and mt not in _SCOPED_EXTRA.get(k, ()):
            _fail(f"{w}{k} is not read by transformers for model_type '{mt or ''}'; refusing rather than ignoring it")
    for k, fams in _LAYOUT_KEYS.items():
        if src.get(k) is not None and mt not in fams:
            _fail(f"{w}{k} is not understood for model_type '{mt or ''}' (librope reads it only for the families "
                  "listed in docs/families.md); refusing rather than ignoring it")


def _check_top_keys(src, w, mt):
    if mt in _NO_ROPE:
        _fail(f"model_type '{mt}' has no rotary position embedding")
    if _bool(src, "alibi", w):
        _fail(f"{w}alibi is true: this model uses ALiBi, not RoPE")
    _check_layout_keys(src, w, mt)
    for k in src:
        if "rope" not in k and "rotary" not in k and "theta" not in k:
            continue
        ok = k in _TOP_KEYS
        if k == "rope_local_base_freq":
            ok = mt in _GEMMA3
        if k == "rotary_dim":
            ok = mt in ("gptj", "codegen", "minimax_m2")
        if k == "rope_interleave":
            ok = mt in ("deepseek_v3", "kimi_k2", "mistral4")
        if k in ("rope_ratio", "original_rope", "apply_rope_fusion"):
            ok = mt == "chatglm"
        if k == "rope_pct":
            _fail(f"{w}rope_pct (StableLM's remote-code name) is not read by transformers; give partial_rotary_factor "
                  "instead")
        if not ok:
            _fail(f"{w}{k} is not a RoPE key librope understands for model_type '{mt or ''}'; refusing rather than "
                  "ignoring it")


def _legacy(src, w, d, dn, mt, out):
    """GPT-J / CodeGen / MiniMax-M2 rotary_dim, Hunyuan NTK-alpha (the C reader's parse_set_legacy)."""
    head_dim = out["head_dim"]
    if mt in ("gptj", "codegen", "minimax_m2"):
        rd = _int(src, "rotary_dim", w)
        if rd is None and mt != "minimax_m2":
            rd = 64
        if rd:
            if rd > head_dim or rd % 2:
                _fail(f"{w}rotary_dim {rd} must be even and at most head_dim {head_dim}")
            out["partial_rotary_factor"] = rd / head_dim
        if mt in ("gptj", "codegen"):
            if src.get("rope_theta") is not None or (d or {}).get("rope_theta") is not None:
                _fail(f"{w}rope_theta is not read by transformers' {mt} (its base is 10000)")
            out["rope_theta"] = 10000.0
    alpha = _num(d or {}, "alpha", dn)
    if alpha:
        if out["type"] != "dynamic":
            _fail(f"{dn}alpha is read only with rope_type dynamic (Hunyuan's NTK-alpha)")
        if not alpha > 0:
            _fail(f"{dn}alpha must be > 0 (got {alpha})")
        if head_dim <= 2:
            _fail(f"{dn}alpha needs head_dim > 2")
        out["type"] = "default"
        out["rope_theta"] = out.get("rope_theta", 10000.0) * alpha ** (head_dim / (head_dim - 2))
        out.pop("factor", None)
        out["partial_rotary_factor"] = 1.0


def _text_model(config):
    if not isinstance(config, dict):
        raise TypeError("librope config: expected a dict (the parsed config.json)")
    mt = config.get("model_type")
    src, w = config, ""
    tc = config.get("text_config")
    th = config.get("thinker_config")
    tw = "text_config."
    if tc is None and isinstance(th, dict) and th.get("text_config") is not None:  # Qwen3-Omni
        tc, tw = th["text_config"], "thinker_config.text_config."
        if not isinstance(tc, dict):
            _fail("thinker_config.text_config must be an object")
        mt = mt or th.get("model_type")
    if isinstance(tc, dict) and not any(config.get(k) is not None
                                        for k in ("num_attention_heads", "head_dim", "hidden_size")):
        src, w = tc, tw
        mt = mt or tc.get("model_type")
    if mt is not None and not isinstance(mt, str):
        _fail("model_type must be a string")
    return mt, src, w


def _rope_dict(src, w):
    rs, rp = src.get("rope_scaling"), src.get("rope_parameters")
    if rs is not None and not isinstance(rs, dict):
        _fail(f"{w}rope_scaling must be an object or null")
    if rp is not None and not isinstance(rp, dict):
        _fail(f"{w}rope_parameters must be an object or null")
    if rs:
        return rs, "rope_scaling."
    if rp:
        return rp, "rope_parameters."
    return None, "rope_scaling."


def _add_type(types, name):
    if name in types:
        return types.index(name)
    if len(types) == MAX_SETS:
        _fail(f"layer_types has more than {MAX_SETS} distinct types")
    if not name or len(name.encode()) >= 48:
        _fail(f"layer_types entry {name!r} is empty or longer than 47 bytes")
    types.append(name)
    return len(types) - 1


def _nope_list(src, w, mt, n):
    """rope_on per layer from no_rope_layers (1 = RoPE) / no_rope_layer_interval; None = all RoPE."""
    nl = src.get("no_rope_layers")
    if mt not in _NOPE_FAMILIES:
        if nl is not None:
            _fail(f"{w}no_rope_layers is not understood for model_type '{mt or ''}'")
        if src.get("no_rope_layer_interval") is not None:
            _fail(f"{w}no_rope_layer_interval is not understood for model_type '{mt or ''}'")
        return None, n
    if isinstance(nl, list) and not nl and mt in ("llama4_text", "llama4"):
        nl = None
    if nl is not None:
        if not isinstance(nl, list):
            _fail(f"{w}no_rope_layers must be a list of 0/1")
        on = []
        for k, e in enumerate(nl):
            if isinstance(e, bool):
                on.append(int(e))
            elif isinstance(e, (int, float)) and e in (0, 1):
                on.append(int(e))
            else:
                _fail(f"{w}no_rope_layers[{k}] must be 0 or 1 (1 = the layer uses RoPE)")
        if len(on) > MAX_LAYERS:
            _fail(f"{w}no_rope_layers has more than {MAX_LAYERS} layers")
        if n == 0:
            n = len(on)
        if len(on) != n:
            _fail(f"{w}no_rope_layers has {len(on)} entries for {n} layers")
        return on, n
    iv = _int(src, "no_rope_layer_interval", w)
    iv = 4 if iv is None else iv
    if iv < 1:
        _fail(f"{w}no_rope_layer_interval must be >= 1")
    if n == 0:
        _fail(f"{w}num_hidden_layers is needed: model_type {mt} leaves every no_rope_layer_interval-th "
              "layer without RoPE")
    return [int((i + 1) % iv != 0) for i in range(n)], n


def _default_types(src, w, mt, n, rope_on):
    sw = src.get("sliding_window") is not None
    pat, spat = 0, None
    if mt == "gemma2":
        pat = 2
    elif mt in _GEMMA3 + _GEMMA4:
        pat = 6
    elif mt in ("cohere2", "exaone4"):
        pat = 4
    if pat and mt in _GEMMA3 + ("cohere2", "exaone4"):
        v = src.get("sliding_window_pattern")
        if isinstance(v, str) and mt == "exaone4":
            spat = v
            if not spat or set(spat) - {"L", "G"}:
                _fail(f"{w}sliding_window_pattern must be an integer or a string of L and G")
        else:
            iv = _int(src, "sliding_window_pattern", w)
            pat = pat if iv is None else iv
            if pat < 1:
                _fail(f"{w}sliding_window_pattern must be >= 1")
    fai = 0
    if mt in _HYBRID_LINEAR:   # every full_attention_interval-th layer full, the others linear (no RoPE)
        fai = _int(src, "full_attention_interval", w)
        fai = 4 if fai is None else fai
        if fai < 1:
            _fail(f"{w}full_attention_interval must be >= 1")
    base = "indexed_attention" if mt in _MISTRAL_LARGE4 else "full_attention"
    types, type_of = [base], []
    for i in range(n):
        tn = base
        if fai:
            if (i + 1) % fai:
                tn = "linear_attention"
        elif spat is not None:
            if sw and spat[i % len(spat)] == "L" and i != n - 1:
                tn = "sliding_attention"
        elif pat and (i + 1) % pat != 0 and not (mt == "exaone4" and not sw):
            tn = "sliding_attention"
        elif mt in ("llama4_text", "llama4") and rope_on[i] and src.get("attention_chunk_size") is not None:
            tn = "chunked_attention"
        elif mt == "smollm3" and not rope_on[i] and sw and _bool(src, "use_sliding_window", w):
            tn = "sliding_attention"
        type_of.append(_add_type(types, tn))
    return types, type_of


def _plan_layers(src, w, mt):
    n = _int(src, "num_hidden_layers", w) or 0
    if not n and mt in ("gptj", "codegen"):
        n = _int(src, "n_layer", w) or 0
    if not n and mt == "chatglm":
        n = _int(src, "num_layers", w) or 0
    if n < 0:
        _fail(f"{w}num_hidden_layers must be a non-negative integer")
    if n > MAX_LAYERS:
        _fail(f"{w}num_hidden_layers {n} is more than the {MAX_LAYERS} layers librope maps")
    lt = src.get("layer_types")
    if lt is not None:
        if not isinstance(lt, list):
            _fail(f"{w}layer_types must be a list of strings")
        if n == 0:
            n = len(lt)
        if len(lt) != n:
            _fail(f"{w}layer_types has {len(lt)} entries for {n} layers")
        if len(lt) > MAX_LAYERS:
            _fail(f"{w}layer_types has more than {MAX_LAYERS} layers")
    on, n = _nope_list(src, w, mt, n)
    rope_on = on if on is not None else [1] * n
    if lt is not None:
        types, type_of = [], []
        for k, e in enumerate(lt):
            if not isinstance(e, str):
                _fail(f"{w}layer_types[{k}] must be a string")
            type_of.append(_add_type(types, e))
        if mt in _GEMMA4 and lt:
            type_of[-1] = _add_type(types, "full_attention")
    else:
        types, type_of = _default_types(src, w, mt, n, rope_on)
    # linear-attention layers (Qwen3-Next / Qwen3.5 Gated DeltaNet) have no RoPE
    rope_on = [0 if types[type_of[i]] == "linear_attention" else rope_on[i] for i in range(n)]
    sw = src.get("sliding_window") is not None
    if mt == "cohere2" or (mt == "exaone4" and sw):
        rope_on = [int(bool(sw and types[type_of[i]] == "sliding_attention" and rope_on[i])) for i in range(n)]
    return n, types, type_of, rope_on


def _check_dropped(src, w, mt, key, used):
    """A top-level key the family's config class drops (_family_defaults.IGNORED): fine when it says
    what the family uses (the C reader's check_dropped)."""
    if (key, mt) in _family_defaults.IGNORED:
        x = _num(src, key, w)
        if x is not None and x != used:
            _fail(f"{w}{key} {x!r} is dropped by transformers' {mt} config (it uses {used!r}); refusing rather than "
                  "ignoring it")


def _first_of(places):
    """The first given of [(obj, where, key)] (transformers' precedence); a later one that differs is
    refused naming it (transformers would drop it silently). The C reader's first_of."""
    found = None
    for obj, where, key in places:
        v = _num(obj, key, where)
        if v is None:
            continue
        if found is None:
            found = (v, where, key)
        elif v != found[0]:
            _fail(f"{where}{key} {v!r} contradicts {found[1]}{found[2]} {found[0]!r}, which transformers would take "
                  f"(ignoring {where}{key})")
    return None if found is None else found[0]


def _parse_set(src, w, d, dn, mt, gemma3_sliding=False, theta_default=None, head_dim_override=0, label=None,
               keyed=False):
    """One frequency set: the rope_config fields of dict d (the C reader's parse_set)."""
    d = d or {}
    _check_dict_keys(d, dn, mt)
    tn, legacy = d.get("rope_type"), d.get("type")
    if tn is not None and legacy is not None and tn != legacy:   # aliases agree; a contradiction is refused

        def kind(name):
            k = _ALIASES.get(name, name)
            if mt in _HUNYUAN_VL and k == "xdrope":   # HunYuanVL's xdrope is dynamic (below)
                return "dynamic"
            return "longrope" if mt == "phi3" and k == "yarn" else k
        if not (isinstance(tn, str) and isinstance(legacy, str)) or kind(tn) != kind(legacy):
            _fail(f"{dn}type '{legacy}' contradicts {dn}rope_type '{tn}' (transformers would take rope_type and "
                  "ignore type)")
    if tn is None:
        tn = legacy
    if tn is None:
        tn = "default"
    if not isinstance(tn, str):
        _fail(f"{dn}rope_type must be a string")
    rtype = _ALIASES.get(tn, tn)
    if rtype == "xdrope" and mt in _HUNYUAN_VL:  # HunYuanVLTextConfig renames it (alpha: NTK-alpha)
        rtype = "dynamic"
    if rtype == "axial":
        _fail(f"{dn}rope_type '{tn}' is a real Hugging Face type that librope does not implement")
    # any other name: the C library judges it (librope.freqs), as before
    if mt == "phi3" and rtype == "yarn":
        rtype = "longrope"
    out = {"type": rtype}

    if gemma3_sliding:
        theta = _first_of([(d, dn, "rope_theta"), (src, w, "rope_local_base_freq")])
    else:   # a layer type's own entry may differ from the top level (Gemma 3's full vs sliding)
        top = [(src, w, "rotary_emb_base"), (src, w, "rope_theta")]
        if ("rope_theta", mt) in _family_defaults.IGNORED:   # the class drops it: checked below
            top = top[:1]
        theta = _num(d, "rope_theta", dn) if keyed else _first_of([(d, dn, "rope_theta")] + top)
        if theta is None and keyed:
            theta = _first_of(top)
    if theta is None and mt == "chatglm":  # THUDM remote code: base = 10000 * rope_ratio
        ratio = _num(src, "rope_ratio", w)
        ratio = 1.0 if ratio is None else ratio
        if not ratio > 0:
            _fail(f"{w}rope_ratio must be > 0 (got {ratio})")
        theta = 10000.0 * ratio
    if theta is None:
        theta = theta_default
    if theta is not None:
        if not theta > 0:
            _fail(f"rope_theta must be > 0 (got {theta})")
        out["rope_theta"] = theta
    if not gemma3_sliding:
        _check_dropped(src, w, mt, "rope_theta", 10000.0 if theta is None else theta)

    top = [(src, w, "rotary_pct"), (src, w, "partial_rotary_factor")]
    if ("partial_rotary_factor", mt) in _family_defaults.IGNORED:
        top = top[:1]
    prf = _num(d, "partial_rotary_factor", dn) if keyed else _first_of([(d, dn, "partial_rotary_factor")] + top)
    if prf is None and keyed:
        prf = _first_of(top)
    if prf is not None and not (0 < prf <= 1 or (prf == 0 and rtype == "proportional")):
        _fail(f"partial_rotary_factor must be in (0, 1] (got {prf})")
    if prf is None:
        prf = _PARTIAL_DEFAULT.get(mt)
    if prf is None and mt in _family_defaults.DEFAULTS:   # the audit's family table
        prf = _family_defaults.DEFAULTS[mt][2]
    if rtype == "default" and mt in _FULL_DEFAULT:
        prf = None
    if prf is not None:
        out["partial_rotary_factor"] = prf
    _check_dropped(src, w, mt, "partial_rotary_factor", 1.0 if prf is None else prf)

    heads, hidden = _int(src, "num_attention_heads", w), _int(src, "hidden_size", w)
    hd, qk_rope = _int(src, "head_dim", w), _int(src, "qk_rope_head_dim", w)
    maxp = _int(src, "max_position_embeddings", w)
    if mt in ("gptj", "codegen"):  # their attribute_map names
        hidden = hidden or _int(src, "n_embd", w)
        heads = heads or _int(src, "n_head", w)
        maxp = maxp or _int(src, "n_positions", w)
    if mt in _HUNYUAN_VL:  # HunYuanVLTextConfig's attribute_map
        ahd = _int(src, "attention_head_dim", w)
        if ahd is not None and hd is not None and ahd != hd:
            _fail(f"{w}attention_head_dim {ahd} and head_dim {hd} differ (HunYuanVL reads them as one field)")
        hd = hd if hd is not None else ahd
    if mt == "chatglm":
        hd = hd or _int(src, "kv_channels", w)
        maxp = maxp or _int(src, "seq_length", w)
    if qk_rope and qk_rope > 0:
        head_dim = qk_rope
        if mt == "mistral4":   # its partial factor is of the whole (nope + rope) head: the rope slice, whole
            full = qk_rope + (_int(src, "qk_nope_head_dim", w) or 0)
            if prf is not None and prf != 1.0 and int(full * prf) != qk_rope:
                _fail(f"{dn}partial_rotary_factor {prf} of the {full}-wide head rotates {int(full * prf)} dims, but "
                      f"qk_rope_head_dim is {qk_rope}")
            prf = None
            out.pop("partial_rotary_factor", None)
    elif head_dim_override > 0:
        head_dim = head_dim_override
    elif hd and hd > 0:
        head_dim = hd
    elif hidden and heads and hidden > 0 and heads > 0:
        head_dim = hidden // heads
    else:
        _fail(f"{w}head_dim is missing: the config needs head_dim, or hidden_size and num_attention_heads")
    out["head_dim"] = head_dim
    if maxp:
        out["max_position_embeddings"] = maxp
    _legacy(src, w, d, dn, mt, out)
    rtype = out["type"]
    prf = out.get("partial_rotary_factor", prf)

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

    inter = mt in _MROPE_INTERLEAVED
    ms = d.get("mrope_section")
    hy = mt in _HUNYUAN_VL  # XD-RoPE: xdrope_section = mrope_section; 3 or 4 contiguous planes
    xs = d.get("xdrope_section") if hy else None
    if xs is not None and ms is not None and xs != ms:
        _fail(f"{dn}mrope_section and xdrope_section differ (HunYuanVL takes them as one field)")
    ms = ms if ms is not None else xs
    flag = _bool(d, "mrope_interleaved", dn)
    if flag and not inter:
        _fail(f"{dn}mrope_interleaved is not understood for model_type '{mt or ''}' (librope interleaves M-RoPE "
              "for the Qwen3-VL / Qwen3.5 / Qwen3-Omni families, as transformers does)")
    dflt = _MROPE_DEFAULT.get(mt)
    if ms is None and dflt is not None:
        if sum(dflt) != rotary_dim // 2:
            _fail(f"{dn}mrope_section is absent and model_type {mt}'s default {tuple(dflt)} does not tile "
                  f"rotary_dim/2 = {rotary_dim // 2}")
        out["mrope_section"] = list(dflt)
        out["mrope_interleaved"] = inter
    if ms is not None:
        out["mrope_interleaved"] = inter
        if hy and (not isinstance(ms, (list, tuple)) or len(ms) not in (3, 4)):
            _fail(f"{dn}mrope_section/xdrope_section must have 3 or 4 entries (XD-RoPE planes)")
        if not hy and (not isinstance(ms, (list, tuple)) or len(ms) != 3):
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


def _keyed(d, types, n):
    """Is d a dict keyed by layer type? (When the layers are unknown: by known type names.)"""
    if not d:
        return False, types
    if all(k in types and (v is None or isinstance(v, dict)) for k, v in d.items()):
        return True, types
    if n == 0 and all(k in _KNOWN_TYPE_NAMES and (v is None or isinstance(v, dict)) for k, v in d.items()):
        return True, list(d.keys())
    return False, types


def _scale_finite(qs, where):
    """rope_model_validate's rule: 1 + beta·ln(1 + floor((2^53 + offset) / floor_scale)) finite
    (the largest position decides); a finite beta of 1e307 would give Inf there."""
    q = (2 ** 53 + qs["pos_offset"]) // qs["floor_scale"]
    if not math.isfinite(1.0 + qs["beta"] * math.log1p(q)):
        _fail(f"{where}: query scaling beta {qs['beta']!r} makes the scale infinite at far positions")
    return qs


def _query_scaling(src, w, mt, d, dn):
    if mt in ("llama4_text", "llama4"):
        on = _bool(src, "attn_temperature_tuning", w)
        beta = _num(src, "attn_scale", w)
        fl = _int(src, "floor_scale", w)
        if on is False:
            return None
        fl = 8192 if fl is None else fl
        if fl < 1:
            _fail(f"{w}floor_scale must be >= 1")
        return _scale_finite({"layers": "nope_layers", "beta": 0.1 if beta is None else beta, "floor_scale": fl,
                              "pos_offset": 1}, f"{w}attn_scale")
    d = d or {}
    beta = _num(d, "llama_4_scaling_beta", dn)
    if beta is None:
        return None
    orig = _int(d, "original_max_position_embeddings", dn)
    if not orig or orig < 1:
        _fail(f"{dn}llama_4_scaling_beta needs {dn}original_max_position_embeddings >= 1")
    return _scale_finite({"layers": "all_layers", "beta": beta, "floor_scale": orig, "pos_offset": 0},
                         f"{dn}llama_4_scaling_beta")


_PER_LAYER_ROPE_KEYS = ("rope_parameters", "rope_scaling", "rope_theta", "partial_rotary_factor", "rotary_dim",
                        "qk_rope_head_dim", "layer_types", "no_rope_layers", "rope_local_base_freq",
                        "max_position_embeddings", "hidden_size", "num_attention_heads")


def _per_layer_head_dims(src, w, n, types, type_of):
    """{type index: head_dim} from per_layer_config (the C reader's per_layer_head_dims)."""
    pl = src.get("per_layer_config")
    if pl is None:
        return {}
    if not isinstance(pl, dict):
        _fail(f"{w}per_layer_config must be an object")
    hd_of, count = {}, {}
    for k, e in pl.items():
        k = str(k)
        if not k.isdigit() or int(k) >= n or not isinstance(e, dict):
            _fail(f"{w}per_layer_config key '{k}' is not a layer index below num_hidden_layers (with an object)")
        for r in _PER_LAYER_ROPE_KEYS:
            if e.get(r) is not None:
                _fail(f"{w}per_layer_config.{k}.{r} changes one layer's RoPE: not supported")
        hd = _int(e, "head_dim", "per_layer_config.")
        if hd is None:
            continue
        t = type_of[int(k)]
        if t in hd_of and hd_of[t] != hd:
            _fail(f"{w}per_layer_config gives layers of type '{types[t]}' different head_dim values")
        hd_of[t] = hd
        count[t] = count.get(t, 0) + 1
    for t, cnt in count.items():
        total = sum(1 for i in range(n) if type_of[i] == t)
        if cnt != total:
            _fail(f"{w}per_layer_config sets head_dim on {cnt} of the {total} '{types[t]}' layers")
    return hd_of


_TOWER_SUFFIXES = ("_vision", "_vision_model", "_vision_encoder", "_audio", "_audio_encoder")


def _is_tower_without_rope(mt, fam):
    """A vision or audio tower (named so by transformers) whose configuration class has no RoPE
    default, and Llama 4's vision model (2-D RoPE from patch coordinates): not a text RoPE.
    Same rule as tools/lib/config_json.c is_tower_without_rope."""
    if not mt:
        return False
    if mt == "llama4_vision_model":
        return True
    if fam is not None or mt in _family_defaults.VISION:
        return False
    return any(len(mt) > len(s) and mt.endswith(s) for s in _TOWER_SUFFIXES)


def model_from_hf(config):
    """The per-layer RoPE of a HF config dict: {"sets": [{"name", "fields"}], "primary": index,
    "layers": [set index or None (no RoPE)] (empty when num_hidden_layers is unknown),
    "layer_types": [attention type per layer], "query_scaling": None or a dict}."""
    mt, src, w = _text_model(config)
    d, dn = _rope_dict(src, w)
    _check_top_keys(src, w, mt)
    _check_misspelt_keys(config, "")
    if src is not config:
        _check_misspelt_keys(src, w)
    fam = _family_defaults.DEFAULTS.get(mt)
    if mt in _family_defaults.VISION:
        _fail(f"model_type '{mt}' is a vision tower (transformers' default rope_type is axial): the config reader "
              "reads text models; build its table with rope_table_create_axial")
    if _is_tower_without_rope(mt, fam):
        _fail(f"model_type '{mt}' is a vision or audio tower, not a text model with a 1-D RoPE: "
              "the config reader reads text models (see docs/families.md, \"Towers\")")
    if mt in _family_defaults.PER_LAYER_TYPE and d is None:
        _fail(f"model_type '{mt}' defaults to a RoPE per layer type that librope does not know: give "
              f"{w}rope_parameters keyed by layer type (and layer_types)")
    if d is None and fam is not None and fam[0] is not None:
        d, dn = dict(fam[0]), "rope_parameters (model_type default)."
    if d is None and mt in _GEMMA4:  # Gemma4TextConfig's defaults
        d = {"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
             "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1000000.0}}
        dn = "rope_parameters (Gemma 4 default)."
    n, types, type_of, rope_on = _plan_layers(src, w, mt)
    keyed, types2 = _keyed(d, types, n)
    if keyed and types2 is not types:
        types = types2
    for k, v in ((d or {}).items() if not keyed else ()):
        if isinstance(v, dict) and k not in types:
            _fail(f"{dn}{str(k)[:64]} is not a layer type of this model (its layer types: {', '.join(types[:2])}"
                  f"{', ...' if len(types) > 2 else ''}); refusing rather than ignoring it")
    ghd = 0
    if mt in _GEMMA4:
        ghd = _int(src, "global_head_dim", w)
        ghd = 512 if ghd is None else ghd
    hd_of = _per_layer_head_dims(src, w, n, types, type_of)
    sets, set_of_type = [], []
    for t, tn in enumerate(types):
        set_of_type.append(None)
        used = n == 0 or any(type_of[i] == t and rope_on[i] for i in range(n))
        sd, sdn = d, dn
        if keyed:
            if tn not in d:
                _fail(f"{dn} has no entry for layer type '{tn}'")
            if d[tn] is None:
                used = False
            sd, sdn = d[tn], f"{dn}{tn}."
        kw = {"label": tn if len(types) > 1 else None, "keyed": keyed}
        if fam is not None:
            kw["theta_default"] = fam[1]
        if mt in _GEMMA3 and tn == "sliding_attention":
            kw["gemma3_sliding"] = True
            if not keyed:
                sd, sdn = None, ""
        elif mt in _GEMMA3:
            kw["theta_default"] = 1e6
        if mt in _GEMMA4 and tn == "full_attention":
            kw["head_dim_override"] = ghd
        if t in hd_of:
            kw["head_dim_override"] = hd_of[t]
        if not used:
            rope_on = [0 if type_of[i] == t else rope_on[i] for i in range(n)]
            continue
        set_of_type[t] = len(sets)
        sets.append({"name": tn, "fields": _parse_set(src, w, sd, sdn, mt, **kw)})
    if not sets:
        _fail(f"{w}no layer of this model uses RoPE")
    for key in (("rope_theta", "partial_rotary_factor") if keyed else ()):   # keyed: a fallback only
        top = _num(src, key, w)
        if top is not None and not any(st["fields"].get(key, 10000.0 if key == "rope_theta" else 1.0) == top
                                       for st in sets):
            _fail(f"{w}{key} {top!r} is not used by any layer type (each entry of {dn} gives its own); refusing "
                  "rather than ignoring it")
    layers = [set_of_type[type_of[i]] if rope_on[i] else None for i in range(n)]
    names = [s["name"] for s in sets]
    primary = names.index("full_attention") if "full_attention" in names else 0
    return {"sets": sets, "primary": primary, "layers": layers,
            "layer_types": [types[type_of[i]] for i in range(n)],
            "query_scaling": _query_scaling(src, w, mt, d, dn)}


def from_hf(config):
    """Map a HF config dict to a dict of rope_config fields (the primary set: the full-attention
    layers' RoPE when the model has several)."""
    m = model_from_hf(config)
    return dict(m["sets"][m["primary"]]["fields"])
