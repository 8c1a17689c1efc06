cd /work/main
./atod run config.toml --method grpo --set student.model='"models/household-teacher.gguf"' \
  --set out_dir='"/work/exp/runs/hh-tgrpo"' --set steps=60 --set rollout.tasks_per_step=4 --set grpo.std_norm=false \
  --set eval.every=20 --set eval.tasks=64 --set eval.seed=1000 --set eval.teacher=false --set checkpoint.every=10 --set seed=11 --set backend.threads=2
