set -e
cd /work/main
D=/work/exp/sq
./atod model new --corpus $D/corpus.txt --vocab 4096 --ctx 2048 --layers 4 --embd 128 --heads 4 --kv-heads 2 --ff 384 --seed 11 $D/t-init.gguf
from=$D/t-init.gguf
i=0
for w in 2 3 1 4 5 6 7 8; do
  i=$((i+1)); to=$D/t-$i.gguf
  ./atod sft configs/searchqa.toml --set env.options.corpus_seed=$w --full --threads 2 --batch 8 --eval-tasks 64 --eval-split test --eval-seed 1 \
     --set optim.warmup=10 --model $from --out $to --seed $i --tasks 1321 --epochs 1 --lr 3e-3 --eval-tasks 64 2>&1 | grep -v "^epoch.*so far"
  ./atod eval configs/searchqa.toml --set student.model="\"$to\"" --tasks 64 --split test --set eval.seed=1000
  from=$to
done
