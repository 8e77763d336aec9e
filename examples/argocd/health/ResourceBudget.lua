-- Argo CD health of a thrifty.dev ResourceBudget, from its Ready condition.
-- argocd-cm key: resource.customizations.health.thrifty.dev_ResourceBudget
-- Argo CD opens only the base, table and package libraries here (and os.time, os.date): no string.*.

-- Ready=False reasons that clear by themselves as time passes or the cluster catches up: the
-- budget is on its way (Progressing). Any other reason needs someone to act (Degraded): a missing
-- webhook Secret, for one, means threshold alerts go nowhere.
local waiting = {
  StaleData = true, -- the newest cost sample is old: the numbers catch up when samples arrive
}

local hs = {}
local conditions = obj.status ~= nil and obj.status.conditions or nil
local ready = nil
if conditions ~= nil then
  for _, condition in ipairs(conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to evaluate the ResourceBudget"
  return hs
end

local reason = ready.reason or ""
local message = ready.message or ""
local observed = ready.observedGeneration or obj.status.observedGeneration
local generation = obj.metadata.generation
if observed ~= nil and generation ~= nil and observed < generation then
  -- Ready describes an older spec: the operator has not evaluated the last edit yet.
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to evaluate generation " .. generation
    .. " (Ready describes generation " .. observed .. "): " .. message
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
elseif ready.status == "False" and not waiting[reason] then
  hs.status = "Degraded"
  hs.message = reason .. ": " .. message
else
  -- A waiting reason, or Ready=Unknown: not decided yet.
  hs.status = "Progressing"
  hs.message = reason .. ": " .. message
end
return hs
