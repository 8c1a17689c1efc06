cd /work/main
./atod sft configs/searchqa.toml --full --threads 2 --batch 8 --eval-tasks 64 --eval-split test --eval-seed 1000 \
  --set optim.warmup=10 --model /work/exp/sq/t-6.gguf --out /work/exp/sq/t-w1.gguf --seed 21 --tasks 1321 --epochs 6 --lr 3e-3 --eval-every 1
