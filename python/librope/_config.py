"""Hugging Face config.json -> librope rope_config fields.

Follows transformers' config plumbing (see /work/shared/reference/hf-rope-semantics.md §0, §4.11):
`rope_scaling` or `rope_parameters` (legacy `type` alias of `rope_type`), `rope_theta` top-level or
inside the dict, `partial_rotary_factor` (GPT-NeoX `rotary_pct`, `rotary_emb_base`), `head_dim` or
hidden_size // num_attention_heads (DeepSeek: `qk_rope_head_dim`), Phi-3's top-level
`original_max_position_embeddings`, Qwen2-VL `mrope` (= default with sections), Gemma 3 per-layer
dicts (the `full_attention` entry), multimodal configs (`text_config`).
"""
import math

# Fields of rope_config that a keyword argument may set directly.
FIELDS = (
    "type", "rope_theta", "head_dim", "hidden_size", "num_attention_heads", "partial_rotary_factor",
    "factor", "max_position_embeddings", "original_max_position_embeddings", "beta_fast", "beta_slow",
    "attention_factor", "mscale", "mscale_all_dim", "truncate", "low_freq_factor", "high_freq_factor",
    "short_factor", "long_factor", "mrope_section",
)


def _num(v, name):
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"librope config: '{name}' must be a number, got {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"librope config: '{name}' must be finite, got {v!r}")
    return v


def _int(v, name):
    v = _num(v, name)
    if v is None:
        return None
    if isinstance(v, float):
        if v != int(v):
            raise ValueError(f"librope config: '{name}' must be an integer, got {v!r}")
        v = int(v)
    return v


def from_hf(config):
    """Map a HF config dict to a dict of rope_config fields (unset fields left out)."""
    if not isinstance(config, dict):
        raise TypeError("librope config: expected a dict (the parsed config.json)")
    cfg = config
    if "text_config" in cfg and isinstance(cfg["text_config"], dict) and not (
            "rope_scaling" in cfg or "rope_parameters" in cfg or "rope_theta" in cfg):
        cfg = cfg["text_config"]
    rp = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    if not isinstance(rp, dict):
        raise ValueError("librope config: 'rope_scaling' / 'rope_parameters' must be an object")
    # Gemma 3 style per-layer-type dicts: the global (full attention) layers carry the scaling.
    if rp and all(isinstance(v, dict) for v in rp.values()):
        if "full_attention" not in rp:
            raise ValueError("librope config: per-layer rope_parameters without 'full_attention'")
        rp = rp["full_attention"]

    out = {}
    rtype = rp.get("rope_type") or rp.get("type") or "default"
    if not isinstance(rtype, str):
        raise ValueError("librope config: 'rope_type' must be a string")
    sections = rp.get("mrope_section")
    if rtype == "mrope":
        rtype = "default"
    if cfg.get("model_type") in ("phi3",) and rtype in ("su", "yarn"):
        rtype = "longrope"  # Phi3 renames these (HF Phi3Config)
    out["type"] = rtype

    theta = rp.get("rope_theta", cfg.get("rope_theta", cfg.get("rotary_emb_base")))
    if theta is not None:
        out["rope_theta"] = float(_num(theta, "rope_theta"))
    prf = rp.get("partial_rotary_factor", cfg.get("partial_rotary_factor", cfg.get("rotary_pct")))
    if prf is not None:
        out["partial_rotary_factor"] = float(_num(prf, "partial_rotary_factor"))

    hd = cfg.get("qk_rope_head_dim") or cfg.get("head_dim")
    if hd is not None:
        out["head_dim"] = _int(hd, "head_dim")
    for k in ("hidden_size", "num_attention_heads", "max_position_embeddings"):
        if cfg.get(k) is not None:
            out[k] = _int(cfg[k], k)
    orig = cfg.get("original_max_position_embeddings") or rp.get("original_max_position_embeddings")
    if orig is not None:
        out["original_max_position_embeddings"] = _int(orig, "original_max_position_embeddings")

    for k in ("factor", "beta_fast", "beta_slow", "attention_factor", "mscale", "mscale_all_dim",
              "low_freq_factor", "high_freq_factor"):
        if rp.get(k) is not None:
            out[k] = float(_num(rp[k], k))
    trunc = rp.get("truncate", (cfg.get("rope_parameters") or {}).get("truncate")
                   if isinstance(cfg.get("rope_parameters"), dict) else None)
    if trunc is not None:
        out["truncate"] = bool(trunc)
    for k in ("short_factor", "long_factor"):
        if rp.get(k) is not None:
            v = rp[k]
            if not isinstance(v, (list, tuple)):
                raise ValueError(f"librope config: '{k}' must be a list of numbers")
            out[k] = [float(_num(x, k)) for x in v]
    if sections is not None:
        if not isinstance(sections, (list, tuple)) or not 1 <= len(sections) <= 3:
            raise ValueError("librope config: 'mrope_section' must be a list of 1 to 3 integers")
        out["mrope_section"] = [_int(x, "mrope_section") for x in sections]
    return out
