"""librope.freqs on Hugging Face config dicts: the plumbing HF applies before computing θ."""
import json
import math

import numpy as np
import pytest

import librope
from ropref import inv_freq


def test_llama_style_config_and_path(tmp_path):
    cfg = {"hidden_size": 4096, "num_attention_heads": 32, "rope_theta": 500000.0, "max_position_embeddings": 131072,
           "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                            "original_max_position_embeddings": 8192}}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    a, b = librope.freqs(cfg), librope.freqs(str(p))
    assert a.type == "llama3" and a.head_dim == 128
    np.testing.assert_array_equal(a.inv_freq, b.inv_freq)
    assert a.band.count("unscaled") == 29 and a.band.count("blend") == 6 and a.band.count("scaled") == 29


def test_legacy_type_alias_and_rope_parameters_with_theta_inside():
    a = librope.freqs({"head_dim": 64, "rope_scaling": {"type": "linear", "factor": 4.0}, "rope_theta": 1e4})
    b = librope.freqs({"head_dim": 64, "rope_parameters": {"rope_type": "linear", "factor": 4.0, "rope_theta": 1e4}})
    assert a.type == b.type == "linear"
    np.testing.assert_allclose(a.inv_freq, inv_freq(64) / 4, rtol=1e-15)
    np.testing.assert_array_equal(a.inv_freq, b.inv_freq)


def test_gpt_neox_rotary_pct_and_base():
    f = librope.freqs({"hidden_size": 6144, "num_attention_heads": 64, "rotary_pct": 0.25, "rotary_emb_base": 10000})
    assert f.rotary_dim == 24
    np.testing.assert_allclose(f.inv_freq, inv_freq(24), rtol=1e-15)


def test_deepseek_rotates_qk_rope_head_dim_and_scales_softmax():
    cfg = {"hidden_size": 2048, "num_attention_heads": 16, "qk_rope_head_dim": 64, "head_dim": 192,
           "rope_theta": 10000, "max_position_embeddings": 163840,
           "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                            "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707}}
    f = librope.freqs(cfg)
    assert f.rotary_dim == 64 and f.attention_factor == pytest.approx(1.0)
    assert f.softmax_scale_factor == pytest.approx((0.1 * 0.707 * math.log(40) + 1) ** 2)


def test_gemma3_per_layer_dicts_and_text_config():
    cfg = {"text_config": {"head_dim": 256, "rope_parameters": {
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1e6},
        "sliding_attention": {"rope_type": "default", "rope_theta": 1e4}}}}
    f = librope.freqs(cfg)
    assert f.type == "linear"
    np.testing.assert_allclose(f.inv_freq, inv_freq(256, 1e6) / 8, rtol=1e-14)


def test_qwen2_vl_mrope_and_phi3_su():
    f = librope.freqs({"hidden_size": 3584, "num_attention_heads": 28, "rope_theta": 1e6,
                       "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}})
    assert f.type == "default" and f.mrope_section == [16, 24, 24]
    phi = {"model_type": "phi3", "hidden_size": 3072, "num_attention_heads": 32, "max_position_embeddings": 131072,
           "original_max_position_embeddings": 4096,
           "rope_scaling": {"type": "su", "short_factor": [1.0] * 48, "long_factor": [2.0] * 48}}
    short, long_ = librope.freqs(phi), librope.freqs(phi, seq_len=5000)
    assert short.type == "longrope"
    np.testing.assert_allclose(long_.inv_freq, short.inv_freq / 2, rtol=1e-15)
    assert short.attention_factor == pytest.approx(math.sqrt(1 + math.log(32) / math.log(4096)))


def test_keywords_override_the_config():
    f = librope.freqs({"head_dim": 64, "rope_theta": 1e4}, rope_theta=1e6)
    np.testing.assert_allclose(f.inv_freq, inv_freq(64, 1e6), rtol=1e-15)


@pytest.mark.parametrize("cfg,err", [
    ({"head_dim": 64, "rope_theta": "big"}, "rope_theta"),
    ({"head_dim": 64, "rope_scaling": [1, 2]}, "rope_scaling"),
    ({"head_dim": 64, "rope_scaling": {"rope_type": "yarn", "factor": float("nan")}}, "factor"),
    ({"head_dim": 64.5}, "head_dim"),
    ({"head_dim": 64, "rope_scaling": {"rope_type": "longrope", "short_factor": "x", "long_factor": [1],
                                        "original_max_position_embeddings": 4096}}, "short_factor"),
    ({"head_dim": 64, "rope_scaling": {"rope_type": "linear", "factor": -2.0}}, "factor must be > 0"),
    ({"head_dim": 64, "rope_scaling": {"rope_type": "longrope", "short_factor": [1.0] * 3, "long_factor": [1.0] * 3,
                                        "original_max_position_embeddings": 4096}}, "needs 32"),
    ({"head_dim": 64, "max_position_embeddings": 8192, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}},
     "low_freq_factor is required"),
    ({"head_dim": 64, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, "original_max_position_embeddings"),
    ({"hidden_size": 64}, "head_dim is missing"),
    ({"head_dim": 64, "rope_scaling": {"type": "mrope", "mrope_section": [16, 16, 8]}}, "sums to 40"),
])
def test_bad_configs_raise_clear_errors(cfg, err):
    with pytest.raises(ValueError, match=err):
        librope.freqs(cfg)


def test_bad_values_rejected_by_the_library():
    with pytest.raises(librope.RopeError):  # no config parsing involved: the C library refuses
        librope.freqs(head_dim=64, type="linear", factor=-2.0)
    with pytest.raises(librope.RopeError):
        librope.freqs(head_dim=64, rope_theta=-1.0)


def test_gpt_neox_default_quarter_and_llama_ignoring_partial_rotary():
    neox = librope.freqs({"model_type": "gpt_neox", "hidden_size": 6144, "num_attention_heads": 64})
    assert neox.rotary_dim == 24
    llama = librope.freqs({"model_type": "llama", "head_dim": 128, "partial_rotary_factor": 0.5})
    assert llama.rotary_dim == 128  # HF's Llama compute_default_rope_parameters ignores it
    phi = librope.freqs({"model_type": "phi", "head_dim": 128, "partial_rotary_factor": 0.5})
    assert phi.rotary_dim == 64


def test_same_reading_as_the_c_reader_on_the_bundled_configs():
    """tests/data/configs/*.json (real model configs): rotary_dim and θ as `rope inspect` reports."""
    import glob
    import os
    import shutil
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    rope = os.environ.get("ROPE_CLI") or shutil.which("rope")
    if not rope and os.path.exists(os.path.join(here, "..", "..", "build", "rope")):
        rope = os.path.join(here, "..", "..", "build", "rope")
    if not rope:
        pytest.skip("no rope binary (set ROPE_CLI) to compare with")
    for path in sorted(glob.glob(os.path.join(here, "..", "data", "configs", "*.json"))):
        rep = json.loads(subprocess.run([rope, "inspect", path, "--json"], check=True, capture_output=True,
                                        text=True).stdout)
        f = librope.freqs(path)
        assert f.rotary_dim == rep["rotary_dim"], path
        np.testing.assert_allclose(f.inv_freq, rep["inv_freq"], rtol=1e-15, err_msg=path)
        assert f.attention_factor == pytest.approx(rep["attention_factor"], rel=1e-15), path


def test_same_layer_map_as_the_c_reader_on_the_bundled_configs():
    """Per-layer RoPE: every set (name, rotary_dim, θ) and the layer map (NoPE = None) equal
    what `rope inspect --json` reports (the C reader), for every bundled config."""
    import glob
    import os
    import shutil
    import subprocess
    here = os.path.dirname(os.path.abspath(__file__))
    rope = os.environ.get("ROPE_CLI") or shutil.which("rope")
    if not rope and os.path.exists(os.path.join(here, "..", "..", "build", "rope")):
        rope = os.path.join(here, "..", "..", "build", "rope")
    if not rope:
        pytest.skip("no rope binary (set ROPE_CLI) to compare with")
    n_multi = 0
    for path in sorted(glob.glob(os.path.join(here, "..", "data", "configs", "*.json"))):
        rep = json.loads(subprocess.run([rope, "inspect", path, "--json"], check=True, capture_output=True,
                                        text=True).stdout)
        m = librope.model(path)
        assert m.set_names == [s["name"] for s in rep["rope_sets"]], path
        assert m.primary == rep["primary_set"], path
        assert m.layers == rep["layer_map"], path
        assert m.layer_types == rep["layer_types"], path
        assert m.query_scaling == rep["query_scaling"], path
        for s in rep["rope_sets"]:
            f = m.sets[s["name"]]
            assert f.rotary_dim == s["rotary_dim"] and f.type == s["rope_type"], (path, s["name"])
            np.testing.assert_allclose(f.inv_freq, s["inv_freq"], rtol=1e-15, err_msg=path)
        n_multi += len(rep["rope_sets"]) > 1 or None in rep["layer_map"]
    assert n_multi >= 7  # Gemma 2/3/4, SmolLM3, Llama 4, Cohere2, EXAONE 4


def test_per_layer_model_forms():
    m = librope.model({"model_type": "smollm3", "head_dim": 64, "num_hidden_layers": 4,
                       "no_rope_layers": [0, 1, 1, 0]})
    assert m.layers == [None, "full_attention", "full_attention", None]
    assert m.layer_freqs(0) is None and m.layer_freqs(1).rotary_dim == 64
    g4 = librope.model({"model_type": "gemma4_text", "head_dim": 256, "num_hidden_layers": 6})
    full = g4.sets["full_attention"]
    assert full.type == "proportional" and full.rotary_dim == 512
    assert np.count_nonzero(full.inv_freq) == 64
    l4 = librope.model({"model_type": "llama4_text", "head_dim": 128, "num_hidden_layers": 8})
    q = l4.query_scale(3, [8190, 8191, 131071])
    np.testing.assert_allclose(q, [1.0, 1 + 0.1 * math.log(2), 1 + 0.1 * math.log(17)], rtol=1e-15)
    assert (l4.query_scale(2, [131071]) == 1.0).all()
    with pytest.raises(ValueError, match="no_rope_layers"):
        librope.model({"model_type": "llama", "head_dim": 64, "num_hidden_layers": 2, "no_rope_layers": [1, 1]})
    with pytest.raises(ValueError, match="no entry for layer type"):
        librope.model({"head_dim": 64, "layer_types": ["full_attention", "sliding_attention"],
                       "rope_parameters": {"full_attention": {"rope_type": "default"}}})


@pytest.mark.parametrize("cfg,err", [
    ({"model_type": "llama", "head_dim": 128, "max_position_embeddings": 131072,
      "rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4,
                       "low_freq_factors": 2, "original_max_position_embeddings": 8192}}, "low_freq_factors"),
    ({"model_type": "gemma3_text", "head_dim": 256, "num_hidden_layers": 6, "rope_local_base_frequency": 1e4},
     "rope_local_base_frequency"),
    ({"model_type": "llama", "head_dim": 128, "rotary_dim": 64}, "rotary_dim"),
    ({"model_type": "qwen2_vl", "hidden_size": 3584, "num_attention_heads": 28,
      "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24], "mrope_interleaved": True}}, "mrope_interleaved"),
    ({"model_type": "llama", "head_dim": 128, "max_position_embeddings": 4096,
      "rope_scaling": {"type": "dynamic", "factor": 2, "alpha": 1000}}, "alpha"),
    ({"model_type": "stablelm", "hidden_size": 2560, "num_attention_heads": 32, "rope_pct": 0.25}, "rope_pct"),
    ({"model_type": "falcon", "hidden_size": 4544, "num_attention_heads": 71, "alibi": True}, "ALiBi"),
    ({"model_type": "bloom", "hidden_size": 1024, "num_attention_heads": 16}, "no rotary"),
    ({"model_type": "gptj", "n_embd": 4096, "n_head": 16, "rope_theta": 5e5}, "rope_theta is not read"),
])
def test_no_silent_misreads(cfg, err):
    """A RoPE key that is misspelt, or not read for the family, is refused by name (as the C reader)."""
    with pytest.raises(ValueError, match=err):
        librope.freqs(cfg)


def test_legacy_names():
    g = librope.freqs({"model_type": "gptj", "n_embd": 4096, "n_head": 16, "rotary_dim": 64})
    assert g.head_dim == 256 and g.rotary_dim == 64
    c = librope.freqs({"model_type": "chatglm", "hidden_size": 4096, "num_attention_heads": 32, "kv_channels": 128,
                       "rope_ratio": 500})
    assert c.rotary_dim == 64 and c.inv_freq[1] == pytest.approx(5e6 ** (-2 / 64), rel=1e-15)
    h = librope.freqs({"model_type": "hunyuan_v1_dense", "head_dim": 128, "max_position_embeddings": 32768,
                       "rope_theta": 1e4, "rope_scaling": {"type": "dynamic", "factor": 1, "alpha": 1000}})
    assert h.type == "default" and h.inv_freq[1] == pytest.approx((1e4 * 1000 ** (128 / 126)) ** (-2 / 128), rel=1e-14)
    assert librope.freqs({"model_type": "qwen3_next", "head_dim": 256}).rotary_dim == 64


_HY_FLAT = {"model_type": "hunyuan_vl", "hidden_size": 1024, "num_attention_heads": 16, "attention_head_dim": 128,
            "rope_theta": 10000, "max_position_embeddings": 32768,
            "rope_scaling": {"alpha": 1000.0, "beta_fast": 32, "beta_slow": 1, "factor": 1.0, "mscale": 1.0,
                             "mscale_all_dim": 1.0, "type": "xdrope", "xdrope_section": [16, 16, 24, 8]}}


def test_hunyuan_vl_xdrope(tmp_path):
    """HunYuanVL XD-RoPE (transformers 5.24.0 HunYuanVLTextConfig): the flat Tencent layout and the nested
    one; 4 or 3 contiguous planes, each frequency's pair on one plane; the C reader reads the same."""
    f = librope.freqs(_HY_FLAT)
    assert f.head_dim == 128 and f.type == "default"         # attention_head_dim; "xdrope" + alpha = NTK-alpha
    assert f.inv_freq[1] == pytest.approx((1e4 * 1000 ** (128 / 126)) ** (-2 / 128), rel=1e-14)
    assert f.mrope_section == [16, 16, 24, 8] and not f.mrope_interleaved
    pos = np.array([[700, 5], [700, 7], [700, 11], [700, 2]])  # a text token, an image token
    t, plain = librope.Table.mrope(f, pos), librope.Table(f, 701)
    planes = np.repeat([0, 1, 2, 3], [16, 16, 24, 8])
    assert np.array_equal(t.cos[0], plain.cos[700])
    assert np.array_equal(t.cos[1], plain.cos[pos[planes, 1], np.arange(64)])
    assert np.array_equal(t.sin[1], plain.sin[pos[planes, 1], np.arange(64)])
    nested = {"model_type": "hunyuan_vl", "text_config": {
        "model_type": "hunyuan_vl_text", "hidden_size": 1024, "num_attention_heads": 8, "head_dim": 128,
        "rope_parameters": {"rope_type": "xdrope", "rope_theta": 10000, "factor": 1, "alpha": 1000,
                            "mrope_section": [16, 24, 24]}}}
    assert librope.freqs(nested).mrope_section == [16, 24, 24]
    import os
    import shutil
    import subprocess
    rope = os.environ.get("ROPE_CLI") or shutil.which("rope")
    if rope:
        p = tmp_path / "hy.json"
        p.write_text(json.dumps(_HY_FLAT))
        rep = json.loads(subprocess.run([rope, "inspect", str(p), "--json"], check=True, capture_output=True,
                                        text=True).stdout)
        assert rep["mrope_section"] == [16, 16, 24, 8]
        np.testing.assert_allclose(f.inv_freq, rep["inv_freq"], rtol=1e-15)


@pytest.mark.parametrize("cfg, err", [
    ({**_HY_FLAT, "rope_scaling": {**_HY_FLAT["rope_scaling"], "mrope_section": [16, 16, 16, 16]}},
     "mrope_section and xdrope_section differ"),
    ({**_HY_FLAT, "rope_scaling": {**_HY_FLAT["rope_scaling"], "xdrope_section": [16, 16, 16, 8, 8]}}, "3 or 4"),
    ({**_HY_FLAT, "rope_scaling": {**_HY_FLAT["rope_scaling"], "xdrope_section": [16, 16, 16, 8]}}, "sums to 56"),
    ({**_HY_FLAT, "head_dim": 64}, "attention_head_dim 128 and head_dim 64 differ"),
    ({**_HY_FLAT, "model_type": "hunyuan_v1_dense"}, "xdrope_section"),
])
def test_hunyuan_xdrope_refused_by_name(cfg, err):
    with pytest.raises(ValueError, match=err):
        librope.freqs(cfg)


def test_keys_a_family_drops_or_misspelt_are_refused_by_name():
    """The audit's findings (docs/families.md): GPT-NeoX drops a top-level rope_theta /
    partial_rotary_factor, a misspelt top-level key, a misspelt layer type, a key of another family."""
    neox = {"model_type": "gpt_neox", "hidden_size": 6144, "num_attention_heads": 64}
    with pytest.raises(ValueError, match="rope_theta 500000.0 is dropped"):
        librope.model(dict(neox, rotary_emb_base=10000, rope_theta=500000))
    with pytest.raises(ValueError, match="partial_rotary_factor 0.5 is dropped"):
        librope.model(dict(neox, partial_rotary_factor=0.5))
    assert librope.model(dict(neox, rope_theta=10000, partial_rotary_factor=0.25)).sets["full_attention"].rotary_dim == 24
    with pytest.raises(ValueError, match="sliding_window_patern is not a config key"):
        librope.model({"model_type": "gemma3_text", "head_dim": 256, "num_hidden_layers": 6,
                       "sliding_window_patern": 3})
    with pytest.raises(ValueError, match="full_atention is not a layer type"):
        librope.model({"model_type": "gemma4_text", "head_dim": 256, "num_hidden_layers": 6, "rope_parameters": {
            "sliding_attention": {"rope_type": "default"}, "full_atention": {"rope_type": "proportional"}}})
    with pytest.raises(ValueError, match="qk_rope_head_dim"):
        librope.model({"model_type": "llama", "head_dim": 64, "qk_rope_head_dim": 32})
    with pytest.raises(ValueError, match="vision tower"):
        librope.model({"model_type": "pixtral", "head_dim": 64})
    for mt in ("llama4_vision_model", "gemma4_audio", "videoprism_vision_model"):
        with pytest.raises(ValueError, match="vision or audio tower"):
            librope.model({"model_type": mt, "head_dim": 64})
    assert librope.model({"model_type": "dots3_note_audio_encoder", "head_dim": 64}).sets["full_attention"].rotary_dim == 32
