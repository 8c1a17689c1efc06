package tinymodel

// DefaultCorpus is the built-in tokenizer training text: plain English with
// digits and punctuation, and agent transcripts in the formats atod's
// environments use, so the vocabulary has tokens for the tags and actions.
const DefaultCorpus = `The quick brown fox jumps over the lazy dog. A small model learns to act by trying, failing, and trying again.
In 2024, the team trained 3 models on 1,250 tasks; the best one solved 87.5% of them in under 40 steps.
"Where is the key?" she asked. "It's in the drawer," he said, "next to the old map (the one from 1999)."
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 20 25 32 42 50 64 99 100 128 256 512 1000 1024 2048 4096.
Prices: $3.99, $12.50, $199; weights: 0.5 kg, 2.25 lb; times: 10:30, 23:59; dates: 2023-07-14, 12/31/2025.
Punctuation test: a-b, a_b, a/b, a\b, a|b, a+b=c, x*y, 5 > 3 < 7, [list], {set}, #tag, @user, 100%, ~approx, ^caret, & more... ok? yes! no; maybe: fine.
You are an agent. Read the observation, think briefly, then give exactly one action.
Each turn you see what happened after your last action. Stop when the task is done.

<|im_start|>system
You are in a house. Your task is given below. Reply with <think>...</think> then <action>...</action>.<|im_end|>
<|im_start|>user
You are in the middle of a room. Looking quickly around you, you see a cabinet 1, a cabinet 2, a countertop 1, a drawer 1, a drawer 2, a fridge 1, a microwave 1, a shelf 1, a sinkbasin 1, and a toaster 1.
Your task is to: put a clean apple in the fridge.<|im_end|>
<|im_start|>assistant
<think>The apple is probably on the countertop. I should go there first.</think>
<action>go to countertop 1</action><|im_end|>
<|im_start|>user
You arrive at countertop 1. On the countertop 1, you see an apple 1, a bread 2, and a knife 1.<|im_end|>
<|im_start|>assistant
<think>I found the apple. Take it.</think>
<action>take apple 1 from countertop 1</action><|im_end|>
<|im_start|>user
You pick up the apple 1 from the countertop 1.<|im_end|>
<|im_start|>assistant
<think>Now clean it in the sink.</think>
<action>go to sinkbasin 1</action><|im_end|>
<|im_start|>user
You arrive at sinkbasin 1. On the sinkbasin 1, you see nothing.<|im_end|>
<|im_start|>assistant
<action>clean apple 1 with sinkbasin 1</action><|im_end|>
<|im_start|>user
You clean the apple 1 using the sinkbasin 1.<|im_end|>
<|im_start|>assistant
<think>The fridge is closed. Open it, then put the apple in.</think>
<action>go to fridge 1</action><|im_end|>
<|im_start|>user
You arrive at fridge 1. The fridge 1 is closed.<|im_end|>
<|im_start|>assistant
<action>open fridge 1</action><|im_end|>
<|im_start|>user
You open the fridge 1. The fridge 1 is open. In it, you see a egg 3, and a lettuce 1.<|im_end|>
<|im_start|>assistant
<action>put apple 1 in/on fridge 1</action><|im_end|>
<|im_start|>user
You put the apple 1 in/on the fridge 1. Task complete.<|im_end|>
Admissible actions: go to cabinet 1, go to cabinet 2, go to drawer 1, open drawer 1, close drawer 1, examine shelf 1, look, inventory, take mug 2 from cabinet 1, heat potato 1 with microwave 1, cool wine 1 with fridge 1, use desklamp 1.
Nothing happens. You see a cabinet 3, a garbagecan 1, a stoveburner 4, a coffeemachine 1, and a diningtable 1.
On the cabinet 1, you see a mug 2, a plate 1, and a saltshaker 3. The drawer 2 is open. In it, you see a spatula 1.

<|im_start|>user
WebShop. Instruction: i need a pair of red running shoes in size 9, and price lower than 60.00 dollars.
[Search]<|im_end|>
<|im_start|>assistant
<think>Search for the product with the key words.</think>
<action>search[red running shoes size 9]</action><|im_end|>
<|im_start|>user
[Back to Search] Page 1 (Total results: 50) [Next >]
[B07X1Y2Z3Q] Men's Lightweight Running Shoes, Red, Breathable Mesh $39.99
[B08K4L5M6N] Women's Trail Runner, Crimson Red $64.50
[B09P7Q8R9S] Kids Sneakers Blue $19.95<|im_end|>
<|im_start|>assistant
<think>The first item is red, running shoes, and under 60 dollars.</think>
<action>click[B07X1Y2Z3Q]</action><|im_end|>
<|im_start|>user
[Back to Search] [< Prev] size [7][8][9][10][11] color [red][black][white] Price: $39.99 Rating: 4.5 [Description] [Features] [Buy Now]<|im_end|>
<|im_start|>assistant
<action>click[9]</action><|im_end|>
<|im_start|>assistant
<action>click[red]</action><|im_end|>
<|im_start|>assistant
<action>click[Buy Now]</action><|im_end|>
Your score (min 0.0, max 1.0): 1.0

<|im_start|>user
Question: who wrote the novel that the 1962 film "To Kill a Mockingbird" is based on?<|im_end|>
<|im_start|>assistant
<think>I need to find the author of the novel. Let me search.</think>
<search>To Kill a Mockingbird novel author</search><|im_end|>
<|im_start|>user
<information>Doc 1 (Title: "To Kill a Mockingbird") To Kill a Mockingbird is a novel by Harper Lee published in 1960. It was immediately successful, winning the Pulitzer Prize.
Doc 2 (Title: "To Kill a Mockingbird (film)") The 1962 film stars Gregory Peck as Atticus Finch.</information><|im_end|>
<|im_start|>assistant
<think>The novel was written by Harper Lee.</think>
<answer>Harper Lee</answer><|im_end|>
<|im_start|>user
Question: what is the capital of the country where the Eiffel Tower is located?<|im_end|>
<|im_start|>assistant
<think>The Eiffel Tower is in Paris, France. The capital of France is Paris.</think>
<answer>Paris</answer><|im_end|>
<|im_start|>user
Question: how many moons does Mars have?<|im_end|>
<|im_start|>assistant
<search>number of moons of Mars</search><|im_end|>
<|im_start|>user
<information>Doc 1 (Title: "Moons of Mars") Mars has two small moons, Phobos and Deimos, discovered in 1877 by Asaph Hall.</information><|im_end|>
<|im_start|>assistant
<answer>2</answer><|im_end|>

Invalid action. Please reply with one action inside <action> and </action>, e.g. <action>look</action>.
The reward is 1 if the task is solved and 0 otherwise; a format error costs 0.1.
Once upon a time, there was a little robot who wanted to cook dinner. It opened every cabinet, looked in every drawer, and finally found a pan on the stoveburner.
The weather today is sunny with a high of 25 degrees and a low of 14; tomorrow, rain is expected after 3 pm.
Learning rate 1e-4, batch size 32, warmup 100 steps, 3 epochs, seed 42: loss fell from 2.31 to 0.87.
def add(a, b):
    return a + b
for i in range(10):
    print(i, i * i)
`
