cd /work/main
./atod run configs/searchqa.toml --method grpo --set student.model='"../models/searchqa-teacher.gguf"' \
  --set out_dir='"/work/exp/runs/sq-tgrpo"' --set steps=120 --set rollout.tasks_per_step=4 \
  --set eval.every=20 --set eval.tasks=64 --set eval.teacher=false --set checkpoint.every=20 --set seed=11 --set backend.threads=2
