-- wrk script: each sender GETs the contact form, then POSTs a 1 KB message (multipart),
-- as a browser with JavaScript off would.
local boundary = "panahbenchboundary"
local text = string.rep("We need flour and a generator for the winter. ", 23):sub(1, 1024)
local body = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n" .. text ..
  "\r\n--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"website\"\r\n\r\n\r\n--" .. boundary .. "--\r\n"
local step = 0

request = function()
  step = step + 1
  if step % 2 == 1 then
    return wrk.format("GET", "/c/roshanai/contact?lang=fa")
  end
  return wrk.format("POST", "/c/roshanai/contact?lang=fa",
    { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }, body)
end

local posts_ok, other = 0, 0
response = function(status, headers, body)
  if status ~= 200 then other = other + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", summary.errors.status))
end
