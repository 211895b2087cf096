"""The tiny Qwen2.5-VL the CPU path runs on: built offline (:mod:`.model`), warm-started by SFT on the
synthetic benchmark (:mod:`.warmstart`), and shipped (:mod:`.assets`)."""
