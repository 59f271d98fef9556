"""Golden per-layer RoPE vectors from the real transformers code (see README.md).

For each bundled config (tests/data/configs/*.json) of a model whose layers differ in RoPE,
this runs transformers' own modules:
  - the layer map: the family's attention module built for every layer (on the meta device)
    says whether the layer rotates (SmolLM3/Llama 4 `use_rope`, Cohere2 / EXAONE 4 sliding
    rule) and the config's `layer_types` which frequency set it reads;
  - per layer type: the family's RotaryEmbedding (its per-type buffers for Gemma 3/4) gives
    inv_freq, attention scaling and cos/sin at sampled positions up to 131071, and the
    family's apply function rotates random q/k (seed 1234);
  - M-RoPE text models (Qwen3-VL interleaved, GLM-4.1V sections + partial + interleaved
    pairs): also cos/sin of an image-like grid whose t, h, w positions differ, and the apply
    on grid tokens;
  - Llama 4: the NoPE layers' attention temperature tuning, captured from a real
    Llama4TextAttention forward (q before the attention kernel divided by q without it).
Writes tests/golden/layers/<name>.txt. Run: python tests/golden/gen_layers.py
"""
import importlib
import json
import os

import torch
import transformers
from transformers import CONFIG_MAPPING

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = os.path.join(HERE, "..", "data", "configs")
OUT = os.path.join(HERE, "layers")
POS = [0, 1, 2, 3, 10, 100, 1000, 4095, 4096, 8191, 8192, 16383, 32767, 65535, 131071]

# name -> (config file, modeling module, rotary class, attention class, apply, style)
CASES = {
    "gemma2_2b": ("gemma2_2b.json", "gemma2", "Gemma2RotaryEmbedding", "Gemma2Attention", "qk", "half"),
    "gemma3_1b": ("gemma3_1b.json", "gemma3", "Gemma3RotaryEmbedding", "Gemma3Attention", "qk", "half"),
    "gemma3_4b": ("gemma3_4b.json", "gemma3", "Gemma3RotaryEmbedding", "Gemma3Attention", "qk", "half"),
    "gemma4_e2b": ("gemma4_e2b.json", "gemma4", "Gemma4TextRotaryEmbedding", "Gemma4TextAttention", "x",
                   "half"),
    "smollm3_3b": ("smollm3_3b.json", "smollm3", "SmolLM3RotaryEmbedding", "SmolLM3Attention", "qk", "half"),
    "llama4_scout": ("llama4_scout.json", "llama4", "Llama4TextRotaryEmbedding", "Llama4TextAttention",
                     "complex", "interleaved"),
    "cohere2_command_r7b": ("cohere2_command_r7b.json", "cohere2", "Cohere2RotaryEmbedding", "Cohere2Attention",
                            "qk", "interleaved"),
    "exaone4_32b": ("exaone4_32b.json", "exaone4", "Exaone4RotaryEmbedding", "Exaone4Attention", "qk", "half"),
    # M-RoPE text models: text tokens (t = h = w) and an image-like grid (t, h, w differ)
    "qwen3_vl_8b": ("qwen3_vl_8b_instruct.json", "qwen3_vl", "Qwen3VLTextRotaryEmbedding", "Qwen3VLTextAttention",
                    "mrope", "half"),
    "glm41v_9b": ("glm41v_9b_thinking.json", "glm4v", "Glm4vTextRotaryEmbedding", "Glm4vTextAttention", "mrope",
                  "interleaved"),
    "hunyuan_7b_instruct": ("hunyuan_7b_instruct.json", "hunyuan_v1_dense", "HunYuanDenseV1RotaryEmbedding",
                            "HunYuanDenseV1Attention", "qk", "half"),
    "ministral3_8b": ("ministral3_8b.json", "ministral3", "Ministral3RotaryEmbedding", "Ministral3Attention", "qk",
                      "half"),
    "gptj_6b": ("gptj_6b.json", "gptj", None, "GPTJAttention", "gptj", "interleaved"),
    # MLA: heads [nope 128 | rope 64]; rope_interleave: interleaved input, [even | odd] output
    "deepseek_v3": ("deepseek_v3.json", "deepseek_v3", "DeepseekV3RotaryEmbedding", "DeepseekV3Attention", "mla",
                    "interleaved"),
    # partial rotary: the first rotary_dim dims of a head, the apply (or the attention) splits at cos.shape[-1]
    "phi2": ("phi2.json", "phi", "PhiRotaryEmbedding", "PhiAttention", "split", "half"),
    "stablelm_3b_4e1t": ("stablelm_3b_4e1t.json", "stablelm", "StableLmRotaryEmbedding", "StableLmAttention",
                         "split", "half"),
    "minimax_m2": ("minimax_m2.json", "minimax_m2", "MiniMaxM2RotaryEmbedding", "MiniMaxM2Attention", "qk",
                   "half"),
    "cohere_command_r": ("cohere_command_r.json", "cohere", "CohereRotaryEmbedding", "CohereAttention", "qk",
                         "interleaved"),
    # hybrid models: linear_attention layers (Gated DeltaNet) have no RoPE; partial 0.25 on the full layers
    "qwen3_next_80b_a3b": ("qwen3_next_80b_a3b.json", "qwen3_next", "Qwen3NextRotaryEmbedding", "Qwen3NextAttention",
                           "qk", "half"),
    "qwen35_27b": ("qwen35_27b.json", "qwen3_5", "Qwen3_5TextRotaryEmbedding", "Qwen3_5Attention", "mrope", "half"),
    "qwen3_omni_30b_a3b": ("qwen3_omni_30b_a3b.json", "qwen3_omni_moe", "Qwen3OmniMoeThinkerTextRotaryEmbedding",
                           "Qwen3OmniMoeThinkerTextAttention", "mrope", "half"),
    # Mistral Large 4: MLA [nope 64 | rope 64], yarn, NoPE every 4th layer, LeRoPE (a learned per-frequency
    # `alpha`, weights not config: zero as the module initialises it, so exp(alpha) = 1)
    "mistral_large4": ("mistral_large4.json", "mistral_large4", "MistralLarge4TextRotaryEmbedding",
                       "MistralLarge4TextAttention", "mla", "interleaved"),
    # Mistral Small 4: MLA [nope 64 | rope 64], yarn, partial 0.5 of the 128-wide head, llama_4_scaling_beta
    "mistral4_small": ("mistral4_small.json", "mistral4", "Mistral4RotaryEmbedding", "Mistral4Attention", "mla",
                       "interleaved"),
}
MROPE_GRID = [[p for p in POS], [p // 2 + 3 for p in POS], [p % 97 for p in POS]]


def f32s(t):
    return " ".join("%.9g" % float(v) for v in t.reshape(-1).tolist())


def load_config(path):
    d = json.load(open(path))
    d.pop("_source", None)
    if "thinker_config" in d:               # Qwen3-Omni: the thinker's text model
        d = d["thinker_config"]
    if "text_config" in d:
        d = d["text_config"]
    mt = d.pop("model_type")
    return CONFIG_MAPPING[mt](**d)


def uses_rope(name, att):
    if hasattr(att, "use_rope"):          # SmolLM3, Llama 4
        return int(bool(att.use_rope))
    if name.startswith("cohere2"):        # Cohere2Attention: RoPE iff a sliding window
        return int(att.sliding_window is not None)
    if name.startswith("exaone4"):        # Exaone4Attention.forward: `sliding_window is None or is_sliding`
        return int(att.sliding_window is None or att.is_sliding)
    return 1


def has_attention(mod, config, i):
    """Hybrid models (Qwen3-Next, Qwen3.5): the decoder layer builds an attention module
    (self_attn) only on full-attention layers; linear-attention layers have none, so no RoPE."""
    lt = getattr(config, "layer_types", None)
    if not lt or "linear_attention" not in lt:
        return True
    dec = [getattr(mod, n) for n in dir(mod) if n.endswith("DecoderLayer") and "Vision" not in n]
    if len(dec) != 1:   # one text decoder layer class: ask it
        raise RuntimeError("cannot find the decoder layer of %s" % mod.__name__)
    with torch.device("meta"):
        layer = dec[0](config, i)
    return hasattr(layer, "self_attn")


def layer_map(name, mod, att_cls, config):
    rope, types = [], []
    for i in range(config.num_hidden_layers):
        if not has_attention(mod, config, i):
            rope.append(0)
        else:
            with torch.device("meta"):
                att = getattr(mod, att_cls)(config, i)
            rope.append(uses_rope(name, att))
        lt = getattr(config, "layer_types", None)
        types.append(lt[i] if lt else "full_attention")
    return rope, types


def rotary_for(mod, rot_cls, config, layer_type):
    rot = getattr(mod, rot_cls)(config)
    x = torch.zeros(1, dtype=torch.float32)
    pid = torch.tensor([POS], dtype=torch.int64)
    if hasattr(rot, "layer_types"):       # Gemma 3/4: one module, buffers per layer type
        inv = getattr(rot, f"{layer_type}_inv_freq")
        af = getattr(rot, f"{layer_type}_attention_scaling")
        out = rot(x, pid, layer_type)
    else:
        inv, af, out = rot.inv_freq, rot.attention_scaling, rot(x, pid)
    return rot, inv.detach().clone(), float(af), out


def head_dim_for(config, layer_type, inv):
    plc = getattr(config, "per_layer_config", None)
    if plc:
        try:
            return int(plc[layer_type].head_dim)
        except Exception:
            pass
    try:
        hd = getattr(config, "head_dim", None)
    except Exception:    # per-layer attribute (Gemma 4): handled above
        hd = None
    return int(hd or config.hidden_size // config.num_attention_heads)


def gptj_block(mod, config, layer_type):
    """GPT-J: no inv_freq buffer; the [sin | cos] table of create_sinusoidal_positions, and
    apply_rotary_pos_emb (rotate_every_two) on the first rotary_dim dims, as GPTJAttention."""
    rd = config.rotary_dim
    table = mod.create_sinusoidal_positions(max(POS) + 1, rd)
    rows = table[POS]
    n = rd // 2
    sin_h, cos_h = rows[:, :n], rows[:, n:]
    lines = ["set %s" % layer_type, "attention_factor 1.0", "positions %s" % " ".join(map(str, POS)),
             "cos_shape %d %d" % (len(POS), n), "cos %s" % f32s(cos_h), "sin %s" % f32s(sin_h)]
    hd = config.n_embd // config.n_head
    sel = list(range(len(POS) - 3, len(POS)))
    g = torch.Generator().manual_seed(1234)
    q = torch.randn(1, 1, len(sel), hd, generator=g, dtype=torch.float32)   # (b, h, s, d)
    k = torch.randn(1, 1, len(sel), hd, generator=g, dtype=torch.float32)
    outs = []
    for x in (q, k):
        xb = x.transpose(1, 2)                                             # GPT-J works on (b, s, h, d)
        sincos = table[[POS[i] for i in sel]][None]
        sn, cs = torch.split(sincos, sincos.shape[-1] // 2, dim=-1)
        rot = mod.apply_rotary_pos_emb(xb[..., :rd], sn, cs)
        outs.append(torch.cat([rot, xb[..., rd:]], dim=-1).transpose(1, 2))
    lines += ["apply_rows %s" % " ".join(map(str, sel)), "q_shape 1 1 %d %d" % (len(sel), hd),
              "q %s" % f32s(q), "q_out %s" % f32s(outs[0].contiguous()), "k_shape 1 1 %d %d" % (len(sel), hd),
              "k %s" % f32s(k), "k_out %s" % f32s(outs[1].contiguous()), "end"]
    return lines


def set_block(name, mod, rot_cls, apply_kind, style, config, layer_type):
    if apply_kind == "gptj":
        return gptj_block(mod, config, layer_type)
    rot, inv, af, out = rotary_for(mod, rot_cls, config, layer_type)
    n = inv.numel()
    lines = ["set %s" % layer_type, "inv_freq %s" % f32s(inv), "attention_factor %r" % af]
    if apply_kind == "complex":
        cos_h, sin_h = out[0].real, out[0].imag
    else:
        cos, sin = out
        if style == "interleaved" and apply_kind not in ("mla", "complex"):   # repeat_interleave layout
            assert torch.equal(cos[0, :, 0::2], cos[0, :, 1::2])
            cos_h, sin_h = cos[0, :, 0::2], sin[0, :, 0::2]
        else:
            assert torch.equal(cos[0, :, :n], cos[0, :, n:])
            cos_h, sin_h = cos[0, :, :n], sin[0, :, :n]
    lines += ["positions %s" % " ".join(map(str, POS)), "cos_shape %d %d" % (len(POS), n),
              "cos %s" % f32s(cos_h), "sin %s" % f32s(sin_h)]
    grid = None
    if apply_kind == "mrope":
        thw = torch.tensor([[row] for row in MROPE_GRID], dtype=torch.int64)    # (3, batch 1, P)
        grid = rot(torch.zeros(1, dtype=torch.float32), thw)
        gc, gs = grid
        if style == "interleaved":
            gch, gsh = gc[0, :, 0::2], gs[0, :, 0::2]
        else:
            assert torch.equal(gc[0, :, :n], gc[0, :, n:])
            gch, gsh = gc[0, :, :n], gs[0, :, :n]
        lines += ["thw %s" % " ".join(str(v) for row in MROPE_GRID for v in row), "cos_thw %s" % f32s(gch),
                  "sin_thw %s" % f32s(gsh)]
        out = grid                       # the apply below rotates grid tokens
    hd = head_dim_for(config, layer_type, inv)
    sel = list(range(len(POS) - 3, len(POS)))
    g = torch.Generator().manual_seed(1234)
    q = torch.randn(1, 1, len(sel), hd, generator=g, dtype=torch.float32)   # (b, h, s, d)
    k = torch.randn(1, 1, len(sel), hd, generator=g, dtype=torch.float32)
    if apply_kind == "mla":              # DeepSeek-V3: the whole head [nope | rope]; split and cat as its attention
        nope = config.qk_nope_head_dim
        hd = nope + config.qk_rope_head_dim
        g = torch.Generator().manual_seed(1234)
        q = torch.randn(1, 1, len(sel), hd, generator=g, dtype=torch.float32)
        k = torch.randn(1, 1, len(sel), hd, generator=g, dtype=torch.float32)
        qr, kr = mod.apply_rotary_pos_emb_interleave(q[..., nope:], k[..., nope:], out[0][:, sel, :],
                                                     out[1][:, sel, :])
        qo, ko = torch.cat((q[..., :nope], qr), dim=-1), torch.cat((k[..., :nope], kr), dim=-1)
        lines.append("rope_offset %d" % nope)
    elif apply_kind == "complex":        # Llama 4: (b, s, h, d) and freqs_cis (b, s, d/2)
        qo, ko = mod.apply_rotary_emb(q.transpose(1, 2), k.transpose(1, 2), out[:, sel, :])
        qo, ko = qo.transpose(1, 2), ko.transpose(1, 2)
    elif apply_kind == "x":              # Gemma 4: one tensor at a time
        qo = mod.apply_rotary_pos_emb(q, out[0][:, sel, :], out[1][:, sel, :])
        ko = mod.apply_rotary_pos_emb(k, out[0][:, sel, :], out[1][:, sel, :])
    elif apply_kind == "split":          # Phi / StableLM: the attention splits [rot | pass] and concatenates
        rd = out[0].shape[-1]
        qr, kr = mod.apply_rotary_pos_emb(q[..., :rd], k[..., :rd], out[0][:, sel, :], out[1][:, sel, :])
        qo, ko = torch.cat((qr, q[..., rd:]), dim=-1), torch.cat((kr, k[..., rd:]), dim=-1)
    else:
        qo, ko = mod.apply_rotary_pos_emb(q, k, out[0][:, sel, :], out[1][:, sel, :])
    lines += ["apply_rows %s" % " ".join(map(str, sel)), "q_shape 1 1 %d %d" % (len(sel), hd),
              "q %s" % f32s(q), "q_out %s" % f32s(qo.contiguous()), "k_shape 1 1 %d %d" % (len(sel), hd),
              "k %s" % f32s(k), "k_out %s" % f32s(ko.contiguous()), "end"]
    return lines


def llama4_temperature(mod, config, rope):
    """q scale of a NoPE layer, from a real Llama4TextAttention forward (tiny sizes, same
    floor_scale / attn_scale): q_proj = identity, the captured q before the kernel / the input."""
    layer = rope.index(0)
    small = CONFIG_MAPPING["llama4_text"](hidden_size=8, num_attention_heads=1, num_key_value_heads=1,
                                          head_dim=8, num_hidden_layers=len(rope), no_rope_layers=list(rope),
                                          floor_scale=config.floor_scale, attn_scale=config.attn_scale,
                                          attn_temperature_tuning=config.attn_temperature_tuning,
                                          use_qk_norm=False, intermediate_size=8, intermediate_size_mlp=8,
                                          attention_chunk_size=None)
    small._attn_implementation = "eager"
    att = mod.Llama4TextAttention(small, layer).eval()
    with torch.no_grad():
        for p in (att.q_proj, att.k_proj, att.v_proj, att.o_proj):
            p.weight.copy_(torch.eye(8))
    captured = {}
    orig = mod.eager_attention_forward

    def spy(module, query, key, value, attention_mask, **kw):
        captured["q"] = query.detach().clone()
        return orig(module, query, key, value, attention_mask, **kw)

    mod.eager_attention_forward = spy
    try:
        positions = [0, 8190, 8191, 16383, 131071]
        scales = []
        for p in positions:   # one token at a time: positions = arange(1) + past_seen_tokens
            class Past:       # a cache that reports p tokens already seen and keeps nothing
                def get_seq_length(self, idx=0):
                    return p

                def update(self, k, v, idx, **kw):
                    return k, v
            h = torch.ones(1, 1, 8)
            with torch.no_grad():
                att(h, position_embeddings=None, attention_mask=None, cache=Past())
            scales.append(float(captured["q"][0, 0, 0, 0]))
    finally:
        mod.eager_attention_forward = orig
    return ["query_scale_layer %d" % layer, "query_scale_positions %s" % " ".join(map(str, positions)),
            "query_scale %s" % " ".join("%.9g" % s for s in scales)]


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (cfg_file, modname, rot_cls, att_cls, apply_kind, style) in CASES.items():
        mod = importlib.import_module(f"transformers.models.{modname}.modeling_{modname}")
        config = load_config(os.path.join(CFG, cfg_file))
        rope, types = layer_map(name, mod, att_cls, config)
        lines = ["# golden per-layer RoPE generated by tests/golden/gen_layers.py -- do not edit",
                 "name %s" % name, "config %s" % cfg_file,
                 "peer transformers %s %s %s" % (transformers.__version__, rot_cls, att_cls),
                 "torch %s" % torch.__version__, "style %s" % style,
                 "n_layers %d" % len(rope), "layer_rope %s" % " ".join(map(str, rope)),
                 "layer_type %s" % " ".join(types)]
        for lt in sorted({t for t, r in zip(types, rope) if r}):
            lines += set_block(name, mod, rot_cls, apply_kind, style, config, lt)
        if name.startswith("llama4"):
            lines += llama4_temperature(mod, config, rope)
        if name.startswith(("ministral3", "mistral4")):   # the module's own get_llama_4_attn_scale
            qpos = [0, 16383, 16384, 65535, 131071, 262143]
            sc = mod.get_llama_4_attn_scale(torch.tensor([qpos]), config.rope_parameters.get("llama_4_scaling_beta"),
                                            config.rope_parameters.get("original_max_position_embeddings"))
            lines += ["query_scale_layer 0", "query_scale_positions %s" % " ".join(map(str, qpos)),
                      "query_scale %s" % f32s(sc.float())]
        with open(os.path.join(OUT, name + ".txt"), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        print("%-22s layers %d, RoPE on %d, sets %s" % (name, len(rope), sum(rope),
                                                        sorted({t for t, r in zip(types, rope) if r})))


if __name__ == "__main__":
    main()
