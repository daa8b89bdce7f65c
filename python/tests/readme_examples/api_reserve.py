idx = q.reserve(1) # Reserve 1 elements
