package cluster

import "sort"

// seat describes a server for voter placement.
type seat struct {
	Name   string
	Side   string
	Labels map[string]string
}

// promotions picks which eligible non-voters become voters. The voter count
// grows to the largest odd number that maxVoters and the eligible servers
// allow (an even count adds no fault tolerance), and each pick is the server
// that shares a side, then label values, with the fewest voters so far, so
// losing one cloud or one zone costs as few votes as possible. Ties go to the
// smaller name, so every leader picks the same servers.
func promotions(voters, eligible []seat, maxVoters int) []string {
	target := min(maxVoters, len(voters)+len(eligible))
	if target%2 == 0 {
		target--
	}
	if target <= len(voters) {
		return nil
	}
	chosen := append([]seat(nil), voters...)
	pool := append([]seat(nil), eligible...)
	sort.Slice(pool, func(i, j int) bool { return pool[i].Name < pool[j].Name })
	var picks []string
	for len(chosen) < target {
		best, bestSide, bestLabels := -1, 0, 0
		for i, c := range pool {
			side, labels := crowding(c, chosen)
			if best < 0 || side < bestSide || (side == bestSide && labels < bestLabels) {
				best, bestSide, bestLabels = i, side, labels
			}
		}
		picks = append(picks, pool[best].Name)
		chosen = append(chosen, pool[best])
		pool = append(pool[:best], pool[best+1:]...)
	}
	return picks
}

// crowding counts the chosen voters on c's side and the label values c shares with them.
func crowding(c seat, chosen []seat) (side, labels int) {
	for _, v := range chosen {
		if v.Side == c.Side {
			side++
		}
		for k, val := range c.Labels {
			if v.Labels[k] == val {
				labels++
			}
		}
	}
	return side, labels
}
