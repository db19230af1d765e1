-- Planted order bug that neither FIFO nor a reversed batch can show: it needs 2 before 1
-- and 3 before 4 in the same batch (a quarter of the permutations).
local order, tasks = {}, {}
for i = 1, 4 do
  tasks[i] = async.spawn(function() order[#order + 1] = i end)
end
async.gather(tasks)
local at = {}
for k, v in ipairs(order) do at[v] = k end
if at[2] < at[1] and at[3] < at[4] then
  error("2 ran before 1 and 3 before 4: " .. table.concat(order, " "), 0)
end
print("ok")
