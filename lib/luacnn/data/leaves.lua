-- lc.data.leaves: the Classify Leaves set with a seeded, stratified train/valid split that
-- keeps identical images on one side.
local shared = require('luacnn.data.shared')
local data = shared.data
local file_exists, check_options, positive_integer, loader_core = shared.file_exists, shared.check_options, shared.positive_integer, shared.loader_core

local function column(csv, name, path)
  for i, h in ipairs(csv.header) do if h == name then return i end end
  error(string.format("leaves: %s has no '%s' column (header: %s)", path, name,
                      table.concat(csv.header, ',')), 3)
end

local function split_fields(list)
  local out = {paths = {}, labels = {}, rows = {}, names = {}}
  for _, r in ipairs(list) do
    local k = #out.paths + 1
    out.paths[k], out.labels[k], out.rows[k], out.names[k] = r.path, r.label, r.line, r.name
  end
  return out
end

-- The Classify Leaves set with a seeded, stratified train/valid split that keeps
-- byte-identical images on one side:
--   root (default leaves_root()), valid_ratio (0.2), seed (0), limit (the first N labelled
--   rows, taken before splitting), check_test (true: also look for test images identical to a
--   labelled one, for the report).
-- Returns {root, classes (sorted names), class_index (name -> 1..K), train, valid, all
-- (= train + valid in CSV order), test, report}; train/valid/all hold {paths, labels (1-based),
-- rows (CSV line numbers), names (as in the CSV)}, test {paths, names, rows}.
-- Identical images form groups; a group goes wholly to train or to valid. Per class, its groups
-- are shuffled (seeded) and taken for valid while they fit in round(valid_ratio * rows); a
-- group whose copies carry different labels stays in train (report.conflicting_*).
function data.leaves(opts)
  opts = check_options('leaves', opts, {root = true, valid_ratio = true, seed = true, limit = true,
                                        check_test = true})
  local root = opts.root
  if root == nil then
    local msg
    root, msg = data.leaves_root()
    if not root then error('leaves: ' .. msg, 2) end
  end
  root = tostring(root):gsub('/+$', '')
  local ratio = opts.valid_ratio == nil and 0.2 or opts.valid_ratio
  if type(ratio) ~= 'number' or ratio < 0 or ratio >= 1 then
    error('leaves: valid_ratio must be a number in [0, 1), got ' .. tostring(ratio), 2)
  end
  local seed = opts.seed or 0
  if math.type(seed) ~= 'integer' then error('leaves: seed must be an integer, got ' .. tostring(seed), 2) end
  local limit = opts.limit and positive_integer('leaves', 'limit', opts.limit)
  local core = loader_core()

  local train_csv = root .. '/train.csv'
  if not file_exists(train_csv) then error('leaves: ' .. train_csv .. ' not found', 2) end
  local csv = core.read_csv(train_csv)
  local ci, cl = column(csv, 'image', train_csv), column(csv, 'label', train_csv)
  local n = #csv.rows
  if limit and limit < n then n = limit end
  local labelled, seen, classes = {}, {}, {}
  for i = 1, n do
    local r = csv.rows[i]
    local name, label = r[ci], r[cl]
    if label == '' then error(string.format('leaves: %s line %d: empty label', train_csv, csv.lines[i]), 2) end
    labelled[i] = {name = name, path = root .. '/' .. name, label_name = label, line = csv.lines[i]}
    if not seen[label] then seen[label] = true; classes[#classes + 1] = label end
  end
  table.sort(classes)
  local class_index = {}
  for k, c in ipairs(classes) do class_index[c] = k end
  for _, r in ipairs(labelled) do r.label = class_index[r.label_name] end

  local test = {paths = {}, names = {}, rows = {}}
  local test_csv = root .. '/test.csv'
  if file_exists(test_csv) then
    local t = core.read_csv(test_csv)
    local ti = column(t, 'image', test_csv)
    for i, r in ipairs(t.rows) do
      test.names[i], test.paths[i], test.rows[i] = r[ti], root .. '/' .. r[ti], t.lines[i]
    end
  end

  -- identical files among the labelled rows (and the test images, for the report)
  local check_test = opts.check_test ~= false
  local paths = {}
  for i, r in ipairs(labelled) do paths[i] = r.path end
  if check_test then for _, p in ipairs(test.paths) do paths[#paths + 1] = p end end
  local group, unreadable = core.dedup(paths, 2)

  local members = {}          -- leader -> list of labelled row numbers
  local leaders = {}          -- leaders of labelled rows, in CSV order
  for i = 1, n do
    local g = group[i]
    if not members[g] then members[g] = {}; leaders[#leaders + 1] = g end
    table.insert(members[g], i)
  end
  local report = {labelled_rows = n, test_rows = #test.paths, unreadable = #unreadable,
                  dup_groups = 0, dup_rows = 0, conflicting_groups = 0, conflicting_rows = 0,
                  test_checked = check_test, test_dup_of_labelled = 0, groups_with_test = 0,
                  dup_groups_all = 0, conflicts = {}}
  local group_class = {}      -- leader -> class, or false when its labels disagree
  for _, g in ipairs(leaders) do
    local m = members[g]
    local c = labelled[m[1]].label
    for _, i in ipairs(m) do if labelled[i].label ~= c then c = false end end
    group_class[g] = c
    if #m > 1 then
      report.dup_groups, report.dup_rows = report.dup_groups + 1, report.dup_rows + #m
      if c == false then
        report.conflicting_groups = report.conflicting_groups + 1
        report.conflicting_rows = report.conflicting_rows + #m
        local names = {}
        for _, i in ipairs(m) do names[#names + 1] = labelled[i].name .. '=' .. labelled[i].label_name end
        report.conflicts[#report.conflicts + 1] = table.concat(names, ' ')
      end
    end
  end
  if check_test then
    local size, with_test = {}, {}
    for k, g in ipairs(group) do
      size[g] = (size[g] or 0) + 1
      if k > n and g <= n then
        report.test_dup_of_labelled = report.test_dup_of_labelled + 1
        with_test[g] = true
      end
    end
    for _, s in pairs(size) do if s > 1 then report.dup_groups_all = report.dup_groups_all + 1 end end
    for _ in pairs(with_test) do report.groups_with_test = report.groups_with_test + 1 end
  end

  -- per class: its (label-consistent) groups, shuffled with (seed, class), taken for valid
  -- while they fit in the class's share
  local by_class = {}
  for k = 1, #classes do by_class[k] = {groups = {}, rows = 0} end
  for _, g in ipairs(leaders) do
    local c = group_class[g]
    if c then
      local bc = by_class[c]
      bc.groups[#bc.groups + 1] = g
      bc.rows = bc.rows + #members[g]
    end
  end
  local in_valid = {}
  for k, bc in ipairs(by_class) do
    local target = math.floor(ratio * bc.rows + 0.5)
    local taken = 0
    if target > 0 then
      local perm = core.permutation(#bc.groups, seed, k)
      for _, p in ipairs(perm) do
        local g = bc.groups[p]
        if taken + #members[g] <= target then
          in_valid[g] = true
          taken = taken + #members[g]
          if taken == target then break end
        end
      end
    end
  end
  local train, valid, all = {}, {}, {}
  for i, r in ipairs(labelled) do
    all[#all + 1] = r
    if in_valid[group[i]] then valid[#valid + 1] = r else train[#train + 1] = r end
  end
  -- the promise, checked: no group has rows on both sides
  local side, straddling = {}, 0
  for i = 1, n do
    local s = in_valid[group[i]] and 'valid' or 'train'
    local g = group[i]
    if side[g] and side[g] ~= s then straddling = straddling + 1 end
    side[g] = side[g] or s
  end
  if straddling > 0 then error('leaves: internal error: ' .. straddling .. ' duplicate groups straddle the split') end
  report.straddling = straddling
  report.train_rows, report.valid_rows = #train, #valid
  report.placement = 'identical images are kept on one side of the split; groups whose copies '
                     .. 'carry different labels stay in train with all their labels'
  report.text = string.format(
    '%d labelled rows, %d classes: %d groups of identical images (%d rows), %d of them with '
    .. 'conflicting labels (%d rows, kept in train)%s; split %d train / %d valid, 0 groups straddle',
    n, #classes, report.dup_groups, report.dup_rows, report.conflicting_groups, report.conflicting_rows,
    check_test and string.format('; %d test images duplicate a labelled one (%d groups); %d '
                                 .. 'duplicate groups over labelled + test', report.test_dup_of_labelled,
                                 report.groups_with_test, report.dup_groups_all) or '',
    #train, #valid)
  return {root = root, classes = classes, class_index = class_index, train = split_fields(train),
          valid = split_fields(valid), all = split_fields(all), test = test, report = report}
end
