cd /work/main
./atod run configs/searchqa.toml --method grpo --set student.model='"../models/searchqa-teacher.gguf"' \
  --set out_dir='"/work/exp/runs/sq-tgrpo-w2"' --set steps=120 --set rollout.tasks_per_step=4 --set env.options.corpus_seed=2 \
  --set eval.every=20 --set eval.tasks=64 --set eval.teacher=false --set checkpoint.every=20 --set seed=11 --set backend.threads=2
for s in 20 40 60 80 100 120; do
./atod eval configs/searchqa.toml --model student --set student.model='"../models/searchqa-teacher.gguf"' --adapter /work/exp/runs/sq-tgrpo-w2/ckpt/step-$s/adapter.gguf --tasks 64 --set eval.seed=1000
done
